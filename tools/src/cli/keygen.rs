//! `kat keygen`: print a new NaCl key pair for settings encryption, as the
//! environment lines OpenKAT's KATalogus reads.

use std::io::Write;

use kat_core::crypto::{generate_key_pair, ENV_MIDDLEWARE, ENV_PRIVATE_KEY, ENV_PUBLIC_KEY};

/// Print `NAME=value` lines for the middleware and both keys.
pub fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let (private, public) = generate_key_pair();
    writeln!(out, "{ENV_MIDDLEWARE}=NACL_SEALBOX")?;
    writeln!(out, "{ENV_PRIVATE_KEY}={private}")?;
    writeln!(out, "{ENV_PUBLIC_KEY}={public}")?;
    Ok(())
}
