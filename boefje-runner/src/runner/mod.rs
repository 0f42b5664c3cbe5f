//! How plugins other than built-ins are run: [`local`] starts a plugin
//! folder's executable with the job environment and limits, [`log`] reads its
//! standard error as the job log, and [`api`] serves OpenKAT's container
//! protocol to executables that speak it instead of writing to standard
//! output, and [`kubernetes`] runs container boefjes as Kubernetes Jobs
//! that speak that protocol; [`guard`] kills local runs' process groups
//! when the runner dies outright. (Built-in boefjes run in process, in the
//! crate root.)

pub mod api;
mod guard;
pub mod kubernetes;
pub mod local;
pub mod log;
