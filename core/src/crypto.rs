//! Encryption of stored settings and raw files at rest, in OpenKAT's
//! formats: settings as `base64(nonce || ciphertext)`, raw files as the bare
//! `nonce || ciphertext`, made by NaCl's `crypto_box`
//! (Curve25519, XSalsa20-Poly1305) with a private and a public key, exactly
//! as PyNaCl's `Box(private, public).encrypt` writes it. `IDENTITY` stores
//! the plain text.
//!
//! Keys are 32 bytes, base64-encoded in environment variables. Neither keys
//! nor plain text ever appear in an error message.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crypto_box::aead::{Aead, AeadCore, OsRng};
use crypto_box::{PublicKey, SalsaBox, SecretKey};

/// The environment variable that selects the middleware (OpenKAT's name).
pub const ENV_MIDDLEWARE: &str = "BOEFJES_ENCRYPTION_MIDDLEWARE";
/// The base64 private key (OpenKAT's name).
pub const ENV_PRIVATE_KEY: &str = "BOEFJES_KATALOGUS_PRIVATE_KEY";
/// The base64 public key (OpenKAT's name).
pub const ENV_PUBLIC_KEY: &str = "BOEFJES_KATALOGUS_PUBLIC_KEY";
/// OpenKAT's older names for the same three variables, read when the new ones are unset.
pub const LEGACY_NAMES: [(&str, &str); 3] = [(ENV_MIDDLEWARE, "ENCRYPTION_MIDDLEWARE"), (ENV_PRIVATE_KEY, "KATALOGUS_PRIVATE_KEY_B64"), (ENV_PUBLIC_KEY, "KATALOGUS_PUBLIC_KEY_B64")];

/// The variable names one service reads its encryption configuration from.
#[derive(Debug, Clone, Copy)]
pub struct EnvNames {
    /// Selects `IDENTITY` or `NACL_SEALBOX`.
    pub middleware: &'static str,
    /// The base64 private key.
    pub private_key: &'static str,
    /// The base64 public key.
    pub public_key: &'static str,
    /// Older names, read when a current one is unset: (current, older).
    pub legacy: &'static [(&'static str, &'static str)],
}

/// The KATalogus's settings encryption (OpenKAT's `BOEFJES_*` names).
pub const KATALOGUS_ENV: EnvNames = EnvNames { middleware: ENV_MIDDLEWARE, private_key: ENV_PRIVATE_KEY, public_key: ENV_PUBLIC_KEY, legacy: &LEGACY_NAMES };
/// Bytes' raw-file encryption (OpenKAT's `BYTES_*` names).
pub const BYTES_ENV: EnvNames = EnvNames { middleware: "BYTES_ENCRYPTION_MIDDLEWARE", private_key: "BYTES_PRIVATE_KEY_B64", public_key: "BYTES_PUBLIC_KEY_B64", legacy: &[] };

/// Why encryption or decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The configuration is unusable (unknown middleware, missing or malformed key).
    #[error("encryption is misconfigured: {0}")]
    Config(String),
    /// A stored blob could not be decrypted: wrong key pair, or the blob was altered.
    #[error("cannot decrypt stored data: {0}")]
    Decrypt(String),
}

/// How stored blobs are protected (share it with `Arc`; it is not `Clone`).
pub enum Middleware {
    /// Plain text (`IDENTITY`).
    Identity,
    /// NaCl box with a key pair (`NACL_SEALBOX`).
    NaclBox(Box<SalsaBox>),
}

impl std::fmt::Debug for Middleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Middleware::Identity => "Middleware::Identity",
            Middleware::NaclBox(_) => "Middleware::NaclBox(***)",
        })
    }
}

fn key_bytes(name: &str, b64: &str) -> Result<[u8; 32], CryptoError> {
    let bytes = STANDARD.decode(b64.trim()).map_err(|_| CryptoError::Config(format!("{name} is not valid base64")))?;
    bytes.try_into().map_err(|_| CryptoError::Config(format!("{name} must be 32 bytes once base64-decoded")))
}

impl Middleware {
    /// A NaCl box from base64 keys, as PyNaCl's `Box(PrivateKey(private), PublicKey(public))`.
    pub fn nacl_box(private_b64: &str, public_b64: &str) -> Result<Middleware, CryptoError> {
        let secret = SecretKey::from(key_bytes(ENV_PRIVATE_KEY, private_b64)?);
        let public = PublicKey::from(key_bytes(ENV_PUBLIC_KEY, public_b64)?);
        Ok(Middleware::NaclBox(Box::new(SalsaBox::new(&public, &secret))))
    }

    /// The middleware the environment asks for; `lookup` reads a variable
    /// (OpenKAT's current names first, then its older ones). Unset means `IDENTITY`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Middleware, CryptoError> {
        Self::from_vars(lookup, &KATALOGUS_ENV)
    }

    /// The middleware that the variables `names` ask for.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>, names: &EnvNames) -> Result<Middleware, CryptoError> {
        let get = |name: &str| lookup(name).or_else(|| names.legacy.iter().find(|(n, _)| *n == name).and_then(|(_, old)| lookup(old))).filter(|v| !v.trim().is_empty());
        match get(names.middleware).as_deref().map(str::trim) {
            None | Some("IDENTITY") => Ok(Middleware::Identity),
            Some("NACL_SEALBOX") => {
                let private = get(names.private_key).ok_or_else(|| CryptoError::Config(format!("NACL_SEALBOX needs {}", names.private_key)))?;
                let public = get(names.public_key).ok_or_else(|| CryptoError::Config(format!("NACL_SEALBOX needs {}", names.public_key)))?;
                Middleware::nacl_box(&private, &public)
            }
            Some(other) => Err(CryptoError::Config(format!("{}={other:?} is unknown; use IDENTITY or NACL_SEALBOX", names.middleware))),
        }
    }

    /// Protect raw bytes: nonce || ciphertext (no base64), as OpenKAT's Bytes stores raw files; the bytes themselves for `IDENTITY`.
    pub fn encrypt_bytes(&self, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            Middleware::Identity => Ok(plain.to_vec()),
            Middleware::NaclBox(b) => {
                let nonce = SalsaBox::generate_nonce(&mut OsRng);
                let ciphertext = b.encrypt(&nonce, plain).map_err(|_| CryptoError::Config("encryption failed".into()))?;
                let mut out = nonce.to_vec();
                out.extend_from_slice(&ciphertext);
                Ok(out)
            }
        }
    }

    /// Undo [`Middleware::encrypt_bytes`].
    pub fn decrypt_bytes(&self, stored: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            Middleware::Identity => Ok(stored.to_vec()),
            Middleware::NaclBox(b) => {
                if stored.len() < 24 + 16 {
                    return Err(CryptoError::Decrypt("the stored value is too short to be a NaCl box".into()));
                }
                let (nonce, ciphertext) = stored.split_at(24);
                let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::Decrypt("the stored value is too short".into()))?;
                b.decrypt(&crypto_box::Nonce::from(nonce), ciphertext).map_err(|_| CryptoError::Decrypt("authentication failed: wrong key pair, or the data was altered".into()))
            }
        }
    }

    /// Protect `plain`: base64(nonce || ciphertext), or the text itself for `IDENTITY`.
    pub fn encrypt(&self, plain: &str) -> Result<String, CryptoError> {
        match self {
            Middleware::Identity => Ok(plain.to_string()),
            Middleware::NaclBox(_) => Ok(STANDARD.encode(self.encrypt_bytes(plain.as_bytes())?)),
        }
    }

    /// Undo [`Middleware::encrypt`]. A wrong key pair or an altered blob is an error, never garbage.
    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        match self {
            Middleware::Identity => Ok(stored.to_string()),
            Middleware::NaclBox(_) => {
                let bytes = STANDARD.decode(stored.trim()).map_err(|_| CryptoError::Decrypt("the stored value is not base64: was it written without encryption?".into()))?;
                String::from_utf8(self.decrypt_bytes(&bytes)?).map_err(|_| CryptoError::Decrypt("the decrypted value is not UTF-8".into()))
            }
        }
    }
}

/// A new key pair as (private, public), both base64, for `kat keygen`.
pub fn generate_key_pair() -> (String, String) {
    let secret = SecretKey::generate(&mut OsRng);
    (STANDARD.encode(secret.to_bytes()), STANDARD.encode(secret.public_key().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_the_wrong_key() {
        let (private, public) = generate_key_pair();
        let m = Middleware::nacl_box(&private, &public).expect("keys");
        let blob = m.encrypt("{\"TOKEN\": \"hunter2\"}").expect("encrypts");
        assert!(!blob.contains("hunter2"));
        assert_ne!(blob, m.encrypt("{\"TOKEN\": \"hunter2\"}").expect("encrypts"), "a fresh nonce each time");
        assert_eq!(m.decrypt(&blob).expect("decrypts"), "{\"TOKEN\": \"hunter2\"}");
        let (other_private, other_public) = generate_key_pair();
        let wrong = Middleware::nacl_box(&other_private, &other_public).expect("keys");
        let err = wrong.decrypt(&blob).expect_err("wrong pair");
        assert!(matches!(err, CryptoError::Decrypt(_)) && !err.to_string().contains(&blob), "{err}");
        assert!(m.decrypt("{\"plain\": true}").is_err(), "plain JSON is not taken for ciphertext");
        assert!(format!("{m:?}").contains("***"));
    }

    #[test]
    fn configuration_reads_current_and_legacy_names() {
        let (private, public) = generate_key_pair();
        let env = |pairs: Vec<(&'static str, String)>| move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert!(matches!(Middleware::from_env(env(vec![])), Ok(Middleware::Identity)));
        let current = env(vec![(ENV_MIDDLEWARE, "NACL_SEALBOX".into()), (ENV_PRIVATE_KEY, private.clone()), (ENV_PUBLIC_KEY, public.clone())]);
        assert!(matches!(Middleware::from_env(current), Ok(Middleware::NaclBox(_))));
        let legacy = env(vec![("ENCRYPTION_MIDDLEWARE", "NACL_SEALBOX".into()), ("KATALOGUS_PRIVATE_KEY_B64", private.clone()), ("KATALOGUS_PUBLIC_KEY_B64", public)]);
        assert!(matches!(Middleware::from_env(legacy), Ok(Middleware::NaclBox(_))));
        let missing = env(vec![(ENV_MIDDLEWARE, "NACL_SEALBOX".into()), (ENV_PRIVATE_KEY, private.clone())]);
        assert!(Middleware::from_env(missing).expect_err("no public key").to_string().contains(ENV_PUBLIC_KEY));
        let short = env(vec![(ENV_MIDDLEWARE, "NACL_SEALBOX".into()), (ENV_PRIVATE_KEY, "AAAA".into()), (ENV_PUBLIC_KEY, "AAAA".into())]);
        assert!(Middleware::from_env(short).expect_err("short key").to_string().contains("32 bytes"));
        assert!(Middleware::from_env(env(vec![(ENV_MIDDLEWARE, "ROT13".into())])).is_err());
    }
}
