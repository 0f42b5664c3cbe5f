//! Shared helpers of the Bytes integration tests.

use std::collections::BTreeMap;

use kat_core::meta::{BoefjeMeta, PluginRef};

/// A dns-records run on `example.nl` for `_dev`, with a fresh id.
pub fn boefje_meta() -> BoefjeMeta {
    BoefjeMeta {
        id: uuid::Uuid::new_v4(),
        started_at: None,
        ended_at: None,
        boefje: PluginRef { id: "dns-records".into(), version: None },
        input_ooi: Some("Hostname|internet|example.nl".into()),
        arguments: BTreeMap::new(),
        organization: "_dev".into(),
        runnable_hash: None,
        environment: Some(BTreeMap::from([("RECORD_TYPES".to_string(), "A".to_string())])),
    }
}
