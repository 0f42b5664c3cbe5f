//! All Cypher text of the graph, in one place, kept to what both Neo4j 5 and
//! kglite accept. Object labels are the object type names from
//! `kat_core::ooi::types` (never user input), so they can be spliced in.
//!
//! Data model: one node per object, labelled by its type, with properties
//! `primary_key`, `object_type`, `fields` (the OpenKAT JSON as text) and
//! `scan_level`; one `Origin` node per (method, source) with `RESULT` edges
//! to the objects it saw; `REF` edges from an object to the objects its
//! reference fields point to.

/// An index on `primary_key` for one label.
pub fn create_index(label: &str) -> String {
    format!("CREATE INDEX FOR (n:{label}) ON (n.primary_key)")
}

/// Upsert objects of one type from `$rows` (`pk`, `fields`), keeping existing levels.
pub fn merge_objects(label: &str) -> String {
    format!(
        "UNWIND $rows AS row MERGE (n:{label} {{primary_key: row.pk}}) \
         SET n.object_type = '{label}', n.fields = row.fields, n.scan_level = coalesce(n.scan_level, 0)"
    )
}

/// Upsert the origin node `$origin`.
pub const MERGE_ORIGIN: &str = "MERGE (o:Origin {primary_key: $origin}) SET o.method = $method, o.source = $source";

/// Remove every `RESULT` edge of origin `$origin`.
pub const CLEAR_ORIGIN_RESULTS: &str = "MATCH (o:Origin {primary_key: $origin})-[r:RESULT]->() DELETE r";

/// Link origin `$origin` to the objects of one type in `$pks`.
pub fn link_results(label: &str) -> String {
    format!("MATCH (o:Origin {{primary_key: $origin}}) UNWIND $pks AS pk MATCH (n:{label} {{primary_key: pk}}) MERGE (o)-[:RESULT]->(n)")
}

/// The `REF` edges for `$rows` (`from`, `to`, `field`), of one source and one target label.
pub fn link_refs(from_label: &str, to_label: &str) -> String {
    format!(
        "UNWIND $rows AS row MATCH (a:{from_label} {{primary_key: row.from}}) MATCH (b:{to_label} {{primary_key: row.to}}) \
         MERGE (a)-[:REF {{field: row.field}}]->(b)"
    )
}

/// Delete the objects of one type in `$pks` that no origin holds any more.
pub fn delete_orphans(label: &str) -> String {
    format!("MATCH (n:{label}) WHERE n.primary_key IN $pks AND NOT (n)<-[:RESULT]-() DETACH DELETE n")
}

/// Set `scan_level` for `$rows` (`pk`, `level`) of one type.
pub fn set_levels(label: &str) -> String {
    format!("UNWIND $rows AS row MATCH (n:{label} {{primary_key: row.pk}}) SET n.scan_level = row.level")
}

/// The objects an origin currently holds.
pub const ORIGIN_RESULTS: &str = "MATCH (o:Origin {primary_key: $origin})-[:RESULT]->(n) RETURN n.primary_key AS pk";

/// Objects by primary key, of one type.
pub fn objects_by_key(label: &str) -> String {
    format!("MATCH (n:{label}) WHERE n.primary_key IN $pks RETURN n.primary_key AS pk, n.fields AS fields, n.scan_level AS level")
}

/// Every object of one type.
pub fn objects_of_type(label: &str) -> String {
    format!("MATCH (n:{label}) RETURN n.primary_key AS pk, n.fields AS fields, n.scan_level AS level ORDER BY pk")
}

/// Every (origin method, origin source, result) triple.
pub const ALL_ORIGIN_RESULTS: &str = "MATCH (o:Origin)-[:RESULT]->(n) RETURN o.method AS method, o.source AS source, n.primary_key AS pk";
