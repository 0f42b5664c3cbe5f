//! mula's filter language (`{"filters": [{"column", "field", "operator",
//! "value"}]}`, or `{"filters": {"and": [...], "or": [...], "not": [...]}}`)
//! turned into SQL with bound values, and the same operators evaluated on
//! JSON for boefje `conditions`.
//!
//! `field` walks into a JSON column with `__` between keys
//! (`boefje__id` is `data.boefje.id`); the type of `value` picks the
//! comparison (text, number, boolean), as mula casts by the value's type.
//! Every mistake (unknown column or operator, a value of the wrong type, an
//! empty list) is a 422 naming the filter's field, such as
//! `filters[0].operator`; nothing a client sends can make the query fail.

use kat_core::services::scheduler::Filter;
use kat_core::services::{ServiceError, ServiceResult};
use serde::Deserialize;
use serde_json::Value;
use sqlx::any::AnyArguments;
use sqlx::Any;

use crate::store::Dialect;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (`eq`, `==`).
    Eq,
    /// Not equal (`ne`, `!=`).
    Ne,
    /// Less than (`lt`, `<`).
    Lt,
    /// Greater than (`gt`, `>`).
    Gt,
    /// At most (`lte`, `<=`).
    Lte,
    /// At least (`gte`, `>=`).
    Gte,
    /// One of a list (`in`).
    In,
    /// None of a list (`not_in`).
    NotIn,
    /// SQL LIKE pattern (`like`).
    Like,
    /// Not LIKE (`not_like`).
    NotLike,
    /// Case-insensitive LIKE (`ilike`).
    Ilike,
    /// Not ILIKE (`not_ilike`).
    NotIlike,
    /// Holds the text (`contains`).
    Contains,
    /// Starts with the text (`starts_with`).
    StartsWith,
}

/// mula operators this scheduler does not implement (they are refused with a clear 422).
const UNSUPPORTED: [&str; 10] = ["is", "is_not", "is_null", "is_not_null", "any", "match", "@>", "<@", "@?", "@@"];

impl Op {
    /// The operator named `name`.
    pub fn parse(name: &str, field: &str) -> ServiceResult<Op> {
        Ok(match name {
            "eq" | "==" => Op::Eq,
            "ne" | "!=" => Op::Ne,
            "lt" | "<" => Op::Lt,
            "gt" | ">" => Op::Gt,
            "lte" | "<=" => Op::Lte,
            "gte" | ">=" => Op::Gte,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "like" => Op::Like,
            "not_like" => Op::NotLike,
            "ilike" => Op::Ilike,
            "not_ilike" => Op::NotIlike,
            "contains" => Op::Contains,
            "starts_with" => Op::StartsWith,
            other if UNSUPPORTED.contains(&other) => return Err(invalid(field, format!("operator {other:?} is not supported here; use eq, ne, lt, gt, lte, gte, in, not_in, like, ilike, contains or starts_with"))),
            other => return Err(invalid(field, format!("unknown operator {:?}", other.chars().take(40).collect::<String>()))),
        })
    }

    fn sql(self, dialect: &Dialect) -> &'static str {
        match self {
            Op::Eq | Op::In => "=",
            Op::Ne | Op::NotIn => "<>",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Lte => "<=",
            Op::Gte => ">=",
            Op::Like | Op::Contains | Op::StartsWith => "LIKE",
            Op::NotLike => "NOT LIKE",
            Op::Ilike => dialect.ilike(),
            Op::NotIlike => if dialect.postgres { "NOT ILIKE" } else { "NOT LIKE" },
        }
    }

    fn wants_text(self) -> bool {
        matches!(self, Op::Like | Op::NotLike | Op::Ilike | Op::NotIlike | Op::Contains | Op::StartsWith)
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ServiceError {
    ServiceError::invalid(format!("{field}: {message}")).with_field(field)
}

/// How a filterable column compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Text,
    /// A whole number.
    Int,
    /// A boolean stored as 0/1.
    Bool,
    /// A time stored as microseconds, filtered with an ISO 8601 string.
    Time,
    /// JSON text, filtered through `field`.
    Json,
}

/// The filterable columns of tasks: API name, SQL column, kind.
pub const TASK_COLUMNS: &[(&str, &str, Kind)] = &[
    ("id", "id", Kind::Text),
    ("scheduler_id", "scheduler_id", Kind::Text),
    ("schedule_id", "schedule_id", Kind::Text),
    ("organisation", "organisation", Kind::Text),
    ("type", "task_type", Kind::Text),
    ("hash", "hash", Kind::Text),
    ("status", "status", Kind::Text),
    ("priority", "priority", Kind::Int),
    ("data", "data", Kind::Json),
    ("created_at", "created_at", Kind::Time),
    ("modified_at", "modified_at", Kind::Time),
];

/// The filterable columns of schedules.
pub const SCHEDULE_COLUMNS: &[(&str, &str, Kind)] = &[
    ("id", "id", Kind::Text),
    ("scheduler_id", "scheduler_id", Kind::Text),
    ("organisation", "organisation", Kind::Text),
    ("hash", "hash", Kind::Text),
    ("enabled", "enabled", Kind::Bool),
    ("schedule", "schedule", Kind::Text),
    ("data", "data", Kind::Json),
    ("deadline_at", "deadline_at", Kind::Time),
    ("created_at", "created_at", Kind::Time),
    ("modified_at", "modified_at", Kind::Time),
];

/// A value to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A fraction.
    Float(f64),
    /// A whole number or NULL.
    OptInt(Option<i64>),
    /// Text or NULL.
    OptText(Option<String>),
}

impl Bind {
    /// The value as rusqlite binds it.
    pub fn as_sql(&self) -> &dyn rusqlite::ToSql {
        match self {
            Bind::Text(t) => t,
            Bind::Int(n) => n,
            Bind::Float(f) => f,
            Bind::OptInt(n) => n,
            Bind::OptText(t) => t,
        }
    }
}

/// SQL conditions joined with AND, and their bound values (`$1` ... in order).
#[derive(Debug, Clone, Default)]
pub struct Sql {
    parts: Vec<String>,
    binds: Vec<Bind>,
}

impl Sql {
    /// The conditions (`1 = 1` when there are none).
    pub fn text(&self) -> String {
        if self.parts.is_empty() { "1 = 1".to_string() } else { self.parts.join(" AND ") }
    }

    /// How many values are bound.
    pub fn count(&self) -> usize {
        self.binds.len()
    }

    fn add(&mut self, bind: Bind) -> usize {
        self.binds.push(bind);
        self.binds.len()
    }

    /// `column = 'value'`.
    pub fn push_text_eq(&mut self, column: &str, value: &str) {
        let n = self.add(Bind::Text(value.to_string()));
        self.parts.push(format!("{column} = ${n}"));
    }

    /// `column = 'value'` with the value written into the SQL, for values of a fixed set (queue names,
    /// statuses) only. SQLite re-prepares a statement on every bind of a parameter it compares with a column
    /// of a partial index's condition; a literal keeps the statement prepared.
    pub fn push_fixed_eq(&mut self, column: &str, value: &'static str) {
        debug_assert!(value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "a fixed value: {value}");
        self.parts.push(format!("{column} = '{value}'"));
    }

    /// `left value`, e.g. `modified_at >=` and a number.
    pub fn push_raw_int(&mut self, left: &str, value: i64) {
        let n = self.add(Bind::Int(value));
        self.parts.push(format!("{left} ${n}"));
    }

    /// Bind the values to `query`.
    pub fn bind<'q>(&self, query: sqlx::query::Query<'q, Any, AnyArguments>) -> sqlx::query::Query<'q, Any, AnyArguments> {
        self.binds.iter().fold(query, crate::store::exec::bind_one)
    }

    /// The values, `$1` first.
    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }
}

/// mula's `FilterRequest`: conditions that must all hold, of which one must hold, and that must not hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterSet {
    /// All must hold.
    pub and: Vec<Filter>,
    /// At least one must hold (when any are given).
    pub or: Vec<Filter>,
    /// None may hold.
    pub not: Vec<Filter>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Filters {
    List(Vec<Filter>),
    Groups {
        #[serde(default)]
        and: Vec<Filter>,
        #[serde(default)]
        or: Vec<Filter>,
        #[serde(default)]
        not: Vec<Filter>,
    },
}

impl FilterSet {
    /// Only `and` conditions.
    pub fn all(filters: &[Filter]) -> FilterSet {
        FilterSet { and: filters.to_vec(), ..FilterSet::default() }
    }

    /// Read a `FilterRequest` body (`null`, `{}` or no `filters` mean none).
    pub fn from_body(body: &Value) -> ServiceResult<FilterSet> {
        let filters = match body {
            Value::Null => return Ok(FilterSet::default()),
            Value::Object(map) => match map.get("filters") {
                None | Some(Value::Null) => return Ok(FilterSet::default()),
                Some(f) => f,
            },
            _ => return Err(invalid("filters", "the body must be an object with a \"filters\" list")),
        };
        match serde_json::from_value::<Filters>(filters.clone()) {
            Ok(Filters::List(and)) => Ok(FilterSet { and, ..FilterSet::default() }),
            Ok(Filters::Groups { and, or, not }) => Ok(FilterSet { and, or, not }),
            Err(_) => Err(invalid("filters", "must be a list of {column, field, operator, value} or an object of and/or/not lists")),
        }
    }

    /// Append the conditions to `sql` for a table with `columns`.
    pub fn to_sql(&self, dialect: &Dialect, columns: &[(&str, &str, Kind)], sql: &mut Sql) -> ServiceResult<()> {
        let group = |name: &str, filters: &[Filter], sql: &mut Sql| -> ServiceResult<Vec<String>> {
            filters.iter().enumerate().map(|(i, f)| condition(dialect, columns, f, &format!("filters{name}[{i}]"), sql)).collect()
        };
        for part in group("", &self.and, sql)? {
            sql.parts.push(part);
        }
        let any = group(".or", &self.or, sql)?;
        if !any.is_empty() {
            sql.parts.push(format!("({})", any.join(" OR ")));
        }
        for part in group(".not", &self.not, sql)? {
            sql.parts.push(format!("NOT {part}"));
        }
        Ok(())
    }
}

/// Check a JSON path's keys: letters, digits, `_` and `-` only.
fn keys(field: &str, at: &str) -> ServiceResult<Vec<String>> {
    let keys: Vec<String> = field.split("__").map(str::to_string).collect();
    if keys.iter().any(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        return Err(invalid(&format!("{at}.field"), "use keys of letters, digits, '_' and '-' joined by '__'"));
    }
    Ok(keys)
}

fn condition(dialect: &Dialect, columns: &[(&str, &str, Kind)], f: &Filter, at: &str, sql: &mut Sql) -> ServiceResult<String> {
    let op = Op::parse(&f.operator, &format!("{at}.operator"))?;
    let (_, column, kind) = columns.iter().find(|(name, _, _)| *name == f.column).ok_or_else(|| invalid(&format!("{at}.column"), format!("unknown column {:?}", f.column.chars().take(40).collect::<String>())))?;
    let value_at = format!("{at}.value");
    let values: Vec<&Value> = match (&f.value, op) {
        (Value::Array(items), Op::In | Op::NotIn) if !items.is_empty() => items.iter().collect(),
        (_, Op::In | Op::NotIn) => return Err(invalid(&value_at, "must be a non-empty list")),
        (Value::Array(_) | Value::Object(_), _) => return Err(invalid(&value_at, "must be a string, number or boolean")),
        (v, _) => vec![v],
    };
    if values.iter().any(|v| std::mem::discriminant(*v) != std::mem::discriminant(values[0])) {
        return Err(invalid(&value_at, "the list must hold values of one type"));
    }
    if values[0].is_null() {
        return match op {
            Op::Eq if *kind != Kind::Json => Ok(format!("{column} IS NULL")),
            Op::Ne if *kind != Kind::Json => Ok(format!("{column} IS NOT NULL")),
            _ => Err(invalid(&value_at, "null compares only with eq or ne on a column")),
        };
    }
    if op.wants_text() && !values[0].is_string() {
        return Err(invalid(&value_at, format!("{} needs a string", f.operator)));
    }
    let left = match kind {
        Kind::Json => {
            let field = f.field.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| invalid(&format!("{at}.field"), format!("a filter on {} needs a field", f.column)))?;
            let keys = keys(field, at)?;
            let first = sql.count() + 1;
            for k in &keys {
                sql.add(Bind::Text(k.clone()));
            }
            if values[0].is_number() { dialect.json_number(column, keys.len(), first) } else { dialect.json_text(column, keys.len(), first) }
        }
        _ if f.field.as_deref().is_some_and(|s| !s.is_empty()) => return Err(invalid(&format!("{at}.field"), format!("column {} is not JSON", f.column))),
        _ => (*column).to_string(),
    };
    let mut rights = Vec::new();
    for v in values {
        let bind = bind_for(*kind, v, op).ok_or_else(|| invalid(&value_at, format!("does not fit column {}", f.column)))?;
        let number = matches!(bind, Bind::Int(_) | Bind::Float(_));
        let n = sql.add(bind);
        rights.push(if *kind == Kind::Json && number { dialect.number_param(n) } else { format!("${n}") });
    }
    Ok(match op {
        Op::In => format!("{left} IN ({})", rights.join(", ")),
        Op::NotIn => format!("{left} NOT IN ({})", rights.join(", ")),
        _ => format!("{left} {} {}", op.sql(dialect), rights[0]),
    })
}

fn bind_for(kind: Kind, value: &Value, op: Op) -> Option<Bind> {
    let text = |s: &str| match op {
        Op::Contains => format!("%{s}%"),
        Op::StartsWith => format!("{s}%"),
        _ => s.to_string(),
    };
    match (kind, value) {
        (Kind::Text | Kind::Json, Value::String(s)) => Some(Bind::Text(text(s))),
        (Kind::Json, Value::Bool(b)) => Some(Bind::Text(b.to_string())),
        (Kind::Json, Value::Number(n)) => n.as_i64().map(Bind::Int).or_else(|| n.as_f64().map(Bind::Float)),
        (Kind::Int, Value::Number(n)) => n.as_i64().map(Bind::Int),
        (Kind::Bool, Value::Bool(b)) => Some(Bind::Int(i64::from(*b))),
        (Kind::Time, Value::String(s)) => crate::clock::parse_time(s).map(|t| Bind::Int(crate::clock::micros(t))),
        _ => None,
    }
}

/// Whether `actual` (a JSON value, `None` when missing) passes `op` against `expected`, as a condition on an object's field.
pub fn holds(op: Op, actual: Option<&Value>, expected: &Value) -> bool {
    let Some(actual) = actual else { return matches!(op, Op::Ne | Op::NotIn) };
    let equal = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    };
    let order = || match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    };
    let text = || actual.as_str().zip(expected.as_str());
    match op {
        Op::Eq => equal(actual, expected),
        Op::Ne => !equal(actual, expected),
        Op::Lt => order().is_some_and(|o| o.is_lt()),
        Op::Gt => order().is_some_and(|o| o.is_gt()),
        Op::Lte => order().is_some_and(|o| o.is_le()),
        Op::Gte => order().is_some_and(|o| o.is_ge()),
        Op::In => expected.as_array().is_some_and(|l| l.iter().any(|e| equal(actual, e))),
        Op::NotIn => expected.as_array().is_some_and(|l| !l.iter().any(|e| equal(actual, e))),
        Op::Contains => match actual {
            Value::Array(items) => items.iter().any(|e| equal(e, expected)),
            _ => text().is_some_and(|(a, e)| a.contains(e)),
        },
        Op::StartsWith => text().is_some_and(|(a, e)| a.starts_with(e)),
        Op::Like | Op::Ilike => text().is_some_and(|(a, e)| like(a, e, op == Op::Ilike)),
        Op::NotLike | Op::NotIlike => text().is_some_and(|(a, e)| !like(a, e, op == Op::NotIlike)),
    }
}

/// SQL LIKE: `%` any run, `_` one character.
fn like(text: &str, pattern: &str, fold: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = if fold { (text.to_lowercase().chars().collect(), pattern.to_lowercase().chars().collect()) } else { (text.chars().collect(), pattern.chars().collect()) };
    let (mut ti, mut pi, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

/// The value at `field` (`__` or `.` between keys) inside `fields`.
pub fn lookup<'a>(fields: &'a serde_json::Map<String, Value>, field: &str) -> Option<&'a Value> {
    let mut keys = field.split("__").flat_map(|k| k.split('.'));
    let first = fields.get(keys.next()?)?;
    keys.try_fold(first, |v, k| v.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_evaluate_like_the_sql() {
        assert!(holds(Op::Eq, Some(&json!(443)), &json!(443.0)));
        assert!(holds(Op::In, Some(&json!("tcp")), &json!(["udp", "tcp"])));
        assert!(holds(Op::Gte, Some(&json!(8080)), &json!(1024)));
        assert!(!holds(Op::Lt, Some(&json!("a")), &json!(3)));
        assert!(holds(Op::Like, Some(&json!("mail.example.nl")), &json!("%.example._l")));
        assert!(!holds(Op::Like, Some(&json!("example.nl")), &json!("%.example.nl")));
        assert!(holds(Op::Ilike, Some(&json!("WWW.x")), &json!("www%")));
        assert!(holds(Op::Ne, None, &json!(1)) && !holds(Op::Eq, None, &json!(1)));
        assert!(holds(Op::Contains, Some(&json!(["a", "b"])), &json!("b")));
        let fields = json!({"a": {"b": 1}}).as_object().cloned().unwrap_or_default();
        assert_eq!(lookup(&fields, "a__b"), Some(&json!(1)));
        assert_eq!(lookup(&fields, "a.b"), Some(&json!(1)));
    }

    #[test]
    fn bad_filters_name_their_field() {
        let parse = |v: Value| FilterSet::from_body(&v);
        assert_eq!(parse(json!({"filters": "x"})).expect_err("shape").field.as_deref(), Some("filters"));
        assert_eq!(parse(json!(null)).expect("none"), FilterSet::default());
        let groups = parse(json!({"filters": {"or": [{"column": "status", "operator": "eq", "value": "queued"}]}})).expect("groups");
        assert_eq!(groups.or.len(), 1);
        let d = crate::store::dialect_for(false);
        for (filter, field) in [
            (json!({"column": "nope", "operator": "eq", "value": 1}), "filters[0].column"),
            (json!({"column": "priority", "operator": "le", "value": 1}), "filters[0].operator"),
            (json!({"column": "priority", "operator": "any", "value": 1}), "filters[0].operator"),
            (json!({"column": "priority", "operator": "eq", "value": "x"}), "filters[0].value"),
            (json!({"column": "data", "operator": "eq", "value": "x"}), "filters[0].field"),
            (json!({"column": "data", "field": "a;b", "operator": "eq", "value": "x"}), "filters[0].field"),
            (json!({"column": "status", "operator": "in", "value": []}), "filters[0].value"),
            (json!({"column": "status", "operator": "in", "value": ["a", 1]}), "filters[0].value"),
            (json!({"column": "created_at", "operator": "gt", "value": "yesterday"}), "filters[0].value"),
        ] {
            let set = parse(json!({"filters": [filter.clone()]})).expect("shape");
            let e = set.to_sql(d, TASK_COLUMNS, &mut Sql::default()).expect_err("refused");
            assert_eq!(e.field.as_deref(), Some(field), "{filter}: {}", e.message);
        }
        let set = parse(json!({"filters": [{"column": "data", "field": "boefje__id", "operator": "in", "value": ["a", "b"]}]})).expect("shape");
        let mut sql = Sql::default();
        set.to_sql(d, TASK_COLUMNS, &mut sql).expect("valid");
        assert_eq!(sql.count(), 4, "two keys and two values are bound: {}", sql.text());
    }
}
