//! How plugins other than built-ins are run: [`local`] starts a plugin
//! folder's executable with the job environment and limits, [`log`] reads its
//! standard error as the job log. (Built-in boefjes run in process, in the
//! crate root.)

pub mod local;
pub mod log;
