//! All Cypher text of the graph, in one place, kept to what both Neo4j 5 and
//! kglite accept (and run unchanged on both engines). Labels, relation types
//! and property names spliced into the text are object type and field names
//! from `kat_core::ooi::types` (never user input); every value is a
//! parameter. Every statement is scoped to one organisation (`$org`).
//!
//! Data model, per organisation:
//! - one node per object, labelled by its type, with `organisation`,
//!   `primary_key`, `object_type`, `scan_level` (the clearance the rules
//!   give), `declared_level` (only where a user declared one) and every field
//!   of the object as a property named after it (a reference field holds the
//!   referenced primary key; the few names an engine reserves, such as `id`,
//!   get a `kat_` prefix: [`property`]);
//! - one relation per reference field whose target is stored, typed by the
//!   field name: `(:DNSARecord)-[:hostname]->(:Hostname)`;
//! - one `Origin` node per (kind, method, source) with `kind`
//!   (`declaration`, `observation`, `affirmation`), `method`, `source`,
//!   `observed_at` (RFC 3339, when it last saved); `RESULT` relations to the objects it holds (an
//!   affirmation `AFFIRMS` its object instead: it adds fields but never keeps
//!   an object alive).

/// Field names the embedded engine keeps for itself (`id` names a node's identity there and cannot change).
const RESERVED_PROPERTIES: &[&str] = &["id", "title", "type"];

/// The property that holds object field `field`: the field name, or `kat_` + the name for the few names an
/// engine reserves (`KATFindingType.id` is the property `kat_id`).
pub fn property(field: &str) -> String {
    if RESERVED_PROPERTIES.contains(&field) {
        format!("kat_{field}")
    } else {
        field.to_string()
    }
}

/// An index on (`organisation`, `primary_key`) for one label, unless it exists. `IF NOT EXISTS` matters beyond
/// saving a round trip: a failed statement leaves its Bolt connection in the FAILED state with its
/// transaction open until the connection is next used, and kglite-bolt-server makes every other client's
/// write wait for that transaction.
pub fn create_index(label: &str) -> String {
    format!("CREATE INDEX IF NOT EXISTS FOR (n:{label}) ON (n.organisation, n.primary_key)")
}

/// The same on `primary_key` alone, for engines without composite indexes.
pub fn create_key_index(label: &str) -> String {
    format!("CREATE INDEX IF NOT EXISTS FOR (n:{label}) ON (n.primary_key)")
}

/// Upsert objects of one type from `$rows` (`pk` and one entry per field), keeping existing levels. As
/// OpenKAT's `merge_ooi`: a field the row sets replaces the stored value, a field it leaves null keeps it, so
/// objects that several origins produce end the same whatever order they are saved in.
pub fn merge_objects(label: &str, fields: &[&str]) -> String {
    let sets: String = fields.iter().map(|f| format!(", n.{p} = coalesce(row.{f}, n.{p})", p = property(f))).collect();
    format!(
        "UNWIND $rows AS row MERGE (n:{label} {{organisation: $org, primary_key: row.pk}}) \
         SET n.object_type = '{label}', n.scan_level = coalesce(n.scan_level, 0){sets}"
    )
}

/// Set the fields of the objects of one type in `$rows` that exist (an affirmation), and link them to `$origin`.
pub fn affirm_objects(label: &str, fields: &[&str]) -> String {
    let sets: Vec<String> = fields.iter().map(|f| format!("n.{p} = coalesce(row.{f}, n.{p})", p = property(f))).collect();
    format!(
        "MATCH (o:Origin {{organisation: $org, primary_key: $origin}}) UNWIND $rows AS row \
         MATCH (n:{label} {{organisation: $org, primary_key: row.pk}}) SET {} MERGE (o)-[:AFFIRMS]->(n)",
        sets.join(", ")
    )
}

/// Remove the `field` relations going out of the objects of one type in `$pks` (they are linked anew): those
/// whose save sets the field.
pub fn clear_references(label: &str, field: &str) -> String {
    format!("UNWIND $pks AS pk MATCH (n:{label} {{organisation: $org, primary_key: pk}})-[r:{field}]->() DELETE r")
}

/// Link `$rows` (`from`, `to`, each pair once) by reference field `field`, from objects of one type to objects
/// of another. `CREATE`, not `MERGE`: the same write removed these objects' `field` relations first
/// ([`clear_references`]), and a `MERGE` would look through every relation of both ends for each row (a
/// hostname that a thousand records reference has a thousand).
pub fn link_references(from_label: &str, field: &str, to_label: &str) -> String {
    format!(
        "UNWIND $rows AS row MATCH (a:{from_label} {{organisation: $org, primary_key: row.from}}) \
         MATCH (b:{to_label} {{organisation: $org, primary_key: row.to}}) CREATE (a)-[:{field}]->(b)"
    )
}

/// Upsert the origin `$origin` of `$kind`, `$method`, `$source`, seen at `$now`.
pub const MERGE_ORIGIN: &str = "MERGE (o:Origin {organisation: $org, primary_key: $origin}) \
     SET o.kind = $kind, o.method = $method, o.source = $source, o.observed_at = $now";

/// Set (or, with a null `$level`, remove) the declared clearance of object `$pk` of one type.
pub fn set_declared_level(label: &str) -> String {
    format!("MATCH (n:{label} {{organisation: $org, primary_key: $pk}}) SET n.declared_level = $level")
}

/// The objects of one type with a declared clearance: (pk, level).
pub fn declared_objects(label: &str) -> String {
    format!("MATCH (n:{label} {{organisation: $org}}) WHERE n.declared_level IS NOT NULL RETURN n.primary_key AS pk, n.declared_level AS level")
}

/// Remove every `RESULT` relation of origin `$origin`.
pub const CLEAR_ORIGIN_RESULTS: &str = "MATCH (o:Origin {organisation: $org, primary_key: $origin})-[r:RESULT]->() DELETE r";

/// Link origin `$origin` to the objects of one type in `$pks` (each once). `CREATE`, not `MERGE`: the same
/// write removed the origin's `RESULT` relations first ([`CLEAR_ORIGIN_RESULTS`]), and a `MERGE` would look
/// through all of them for each object.
pub fn link_results(label: &str) -> String {
    format!(
        "MATCH (o:Origin {{organisation: $org, primary_key: $origin}}) UNWIND $pks AS pk \
         MATCH (n:{label} {{organisation: $org, primary_key: pk}}) CREATE (o)-[:RESULT]->(n)"
    )
}

/// Delete the objects of one type in `$pks` that no origin holds any more.
pub fn delete_orphans(label: &str) -> String {
    format!("UNWIND $pks AS pk MATCH (n:{label} {{organisation: $org, primary_key: pk}}) WHERE NOT (n)<-[:RESULT]-() DETACH DELETE n")
}

/// Delete the origins in `$origins` with their relations.
pub const DELETE_ORIGINS: &str = "MATCH (o:Origin {organisation: $org}) WHERE o.primary_key IN $origins DETACH DELETE o";

/// Delete the objects of one type in `$pks`, whatever holds them.
pub fn delete_objects(label: &str) -> String {
    format!("MATCH (n:{label} {{organisation: $org}}) WHERE n.primary_key IN $pks DETACH DELETE n")
}

/// Set `scan_level` for `$rows` (`pk`, `level`) of one type.
pub fn set_levels(label: &str) -> String {
    format!("UNWIND $rows AS row MATCH (n:{label} {{organisation: $org, primary_key: row.pk}}) SET n.scan_level = row.level")
}

/// The objects origin `$origin` holds.
pub const ORIGIN_RESULTS: &str = "MATCH (o:Origin {organisation: $org, primary_key: $origin})-[:RESULT]->(n) RETURN n.primary_key AS pk";

/// The origins whose source is `$source` (the declaration of an object and the observations made on it).
pub const ORIGINS_FROM_SOURCE: &str = "MATCH (o:Origin {organisation: $org}) WHERE o.source = $source RETURN o.primary_key AS origin";

/// The origins of one object, newest first: kind, method, source and when each last saw it.
pub fn origins_of(label: &str) -> String {
    format!(
        "MATCH (o:Origin {{organisation: $org}})-[]->(n:{label} {{organisation: $org, primary_key: $pk}}) \
         RETURN o.kind AS kind, o.method AS method, o.source AS source, o.observed_at AS observed_at ORDER BY observed_at DESC"
    )
}

/// The columns every object read returns: key, level, declared level, then the fields in `fields`' order.
fn object_columns(fields: &[&str]) -> String {
    let fields: String = fields.iter().map(|f| format!(", n.{} AS {f}", property(f))).collect();
    format!("n.primary_key AS pk, n.scan_level AS level, n.declared_level AS declared{fields}")
}

/// Objects of one type by primary key (`$pks`).
pub fn objects_by_key(label: &str, fields: &[&str]) -> String {
    format!("UNWIND $pks AS pk MATCH (n:{label} {{organisation: $org, primary_key: pk}}) RETURN {}", object_columns(fields))
}

/// A page of the objects of one type whose `filters` fields equal `$f0`, `$f1`, ..., ordered by key
/// (`$skip`, `$limit`).
pub fn objects_of_type(label: &str, fields: &[&str], filters: &[&str]) -> String {
    format!("MATCH (n:{label} {{organisation: $org}}){} RETURN {} ORDER BY pk SKIP $skip LIMIT $limit", filter_clause(filters), object_columns(fields))
}

/// The objects of one type whose reference field `field` names object `$pk` of type `target_label`, ordered by
/// key: along the relation from the target, which its key index finds.
pub fn referencing(label: &str, field: &str, target_label: &str, fields: &[&str]) -> String {
    format!(
        "MATCH (t:{target_label} {{organisation: $org, primary_key: $pk}})<-[:{field}]-(n:{label} {{organisation: $org}}) RETURN {} ORDER BY pk",
        object_columns(fields)
    )
}

/// How many objects of one type match `filters` (as [`objects_of_type`]).
pub fn count_of_type(label: &str, filters: &[&str]) -> String {
    format!("MATCH (n:{label} {{organisation: $org}}){} RETURN count(n) AS count", filter_clause(filters))
}

fn filter_clause(filters: &[&str]) -> String {
    if filters.is_empty() {
        return String::new();
    }
    let conditions: Vec<String> = filters.iter().enumerate().map(|(i, f)| format!("n.{} = $f{i}", property(f))).collect();
    format!(" WHERE {}", conditions.join(" AND "))
}

/// The reference relations going out of the objects of one type in `$pks`: (from, field, to, to's type, to's level).
pub fn references_from(label: &str) -> String {
    format!(
        "UNWIND $pks AS pk MATCH (a:{label} {{organisation: $org, primary_key: pk}})-[r]->(b) \
         RETURN a.primary_key AS from, type(r) AS field, b.primary_key AS to, b.object_type AS type, b.scan_level AS level"
    )
}

/// The reference relations coming into the objects of one type in `$pks` from other objects (not origins):
/// (from, field, to, from's type, from's level).
pub fn references_to(label: &str) -> String {
    format!(
        "UNWIND $pks AS pk MATCH (b:{label} {{organisation: $org, primary_key: pk}})<-[r]-(a) WHERE a.object_type IS NOT NULL \
         RETURN a.primary_key AS from, type(r) AS field, b.primary_key AS to, a.object_type AS type, a.scan_level AS level"
    )
}

/// The objects of one type with a level above 0: (pk, level).
pub fn cleared_objects(label: &str) -> String {
    format!("MATCH (n:{label} {{organisation: $org}}) WHERE n.scan_level > 0 RETURN n.primary_key AS pk, n.scan_level AS level")
}

/// Every (origin method, origin source, result) triple of the organisation.
pub const ALL_ORIGIN_RESULTS: &str =
    "MATCH (o:Origin {organisation: $org})-[:RESULT]->(n) RETURN o.method AS method, o.source AS source, n.primary_key AS pk";
