//! The Kubernetes objects of one container run, built as plain data so that
//! tests (and `kat k8s manifests`) can compare them whole.
//!
//! A run is a `batch/v1` Job and a `Secret` of the same name
//! (`kat-boefje-<task id>`). The Secret holds everything secret: the input
//! URL (its token) under `KAT_INPUT_URL` and the job environment. The Job
//! holds none of it: its container gets `KAT_INPUT_URL` through a
//! `secretKeyRef`, the job environment through `envFrom`, and its last
//! argument is `$(KAT_INPUT_URL)`, which the kubelet expands. The Secret is
//! made owned by the Job once the Job exists, so the cluster deletes it
//! with the Job.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec, ResourceRequirements, Secret, SecretEnvSource, SecretKeySelector, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{json, Value};
use uuid::Uuid;

/// The environment variable (and Secret key) that carries the input URL.
pub const INPUT_URL_KEY: &str = "KAT_INPUT_URL";
/// The name of the boefje's container in the Job.
pub const CONTAINER_NAME: &str = "boefje";
/// The label every object of the runner carries (with [`MANAGER`] as value).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Who manages the runner's Jobs and Secrets.
pub const MANAGER: &str = "kat-boefje-runner";
/// The label with the task id.
pub const TASK_LABEL: &str = "kat.openkat.nl/task-id";
/// The label with the boefje id (made label-safe; the annotation of the same name is exact).
pub const BOEFJE_LABEL: &str = "kat.openkat.nl/boefje-id";
/// The label with the organisation (made label-safe; the annotation of the same name is exact).
pub const ORGANISATION_LABEL: &str = "kat.openkat.nl/organisation";
/// The label with the id of the runner that made the Job (see `BOEFJES_RUNNER_ID`).
pub const RUNNER_LABEL: &str = "kat.openkat.nl/runner";

/// CPU and memory of a Job's container, requested and capped alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// CPU in Kubernetes quantity notation, e.g. `250m`.
    pub cpu: String,
    /// Memory in Kubernetes quantity notation, e.g. `256Mi`.
    pub memory: String,
}

/// Stalker's size presets, smallest first.
pub const PRESETS: [(&str, &str, &str); 6] = [("XS", "100m", "128Mi"), ("S", "250m", "256Mi"), ("M", "500m", "512Mi"), ("L", "1", "1Gi"), ("XL", "2", "2Gi"), ("XXL", "4", "4Gi")];

impl Resources {
    /// The preset of this name (`XS`, `S`, `M`, `L`, `XL`, `XXL`; any case).
    pub fn preset(name: &str) -> Option<Resources> {
        PRESETS.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)).map(|(_, cpu, memory)| Resources { cpu: (*cpu).into(), memory: (*memory).into() })
    }
}

/// What one container run is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec<'a> {
    /// The task (and boefje meta) id.
    pub task_id: Uuid,
    /// The boefje id.
    pub boefje_id: &'a str,
    /// The organisation code.
    pub organisation: &'a str,
    /// The image (`oci_image`).
    pub image: &'a str,
    /// The image's arguments before the input URL (`oci_arguments`).
    pub arguments: &'a [String],
    /// The Job's `activeDeadlineSeconds`.
    pub timeout_seconds: u64,
    /// The Job's `ttlSecondsAfterFinished`.
    pub ttl_seconds: u32,
    /// CPU and memory.
    pub resources: &'a Resources,
    /// The id of the runner that makes the Job.
    pub runner_id: &'a str,
}

/// The name of the Job and Secret of a task.
pub fn object_name(task_id: Uuid) -> String {
    format!("kat-boefje-{task_id}")
}

/// The task id in an object name made by [`object_name`].
pub fn task_of(name: &str) -> Option<Uuid> {
    name.strip_prefix("kat-boefje-").and_then(|id| Uuid::parse_str(id).ok())
}

/// A value Kubernetes accepts as a label value: at most 63 characters of `A-Za-z0-9-_.`, starting and
/// ending with a letter or digit (others become `_`; an empty result is `none`).
pub fn label_value(text: &str) -> String {
    let replaced: String = text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).take(63).collect();
    let trimmed = replaced.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() { "none".into() } else { trimmed.into() }
}

/// The labels of a run's Job, Secret and pod.
pub fn labels(spec: &RunSpec<'_>) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGER.to_string()),
        (TASK_LABEL.to_string(), spec.task_id.to_string()),
        (BOEFJE_LABEL.to_string(), label_value(spec.boefje_id)),
        (ORGANISATION_LABEL.to_string(), label_value(spec.organisation)),
        (RUNNER_LABEL.to_string(), label_value(spec.runner_id)),
    ])
}

/// The label selector of the Jobs a runner made.
pub fn runner_selector(runner_id: &str) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGER},{RUNNER_LABEL}={}", label_value(runner_id))
}

fn metadata(spec: &RunSpec<'_>, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(object_name(spec.task_id)),
        namespace: Some(namespace.to_string()),
        labels: Some(labels(spec)),
        annotations: Some(BTreeMap::from([(BOEFJE_LABEL.to_string(), spec.boefje_id.to_string()), (ORGANISATION_LABEL.to_string(), spec.organisation.to_string())])),
        ..ObjectMeta::default()
    }
}

/// The Secret of a run: the input URL and the job environment.
pub fn secret(spec: &RunSpec<'_>, namespace: &str, input_url: &str, environment: &BTreeMap<String, String>) -> Secret {
    let mut data = environment.clone();
    data.insert(INPUT_URL_KEY.to_string(), input_url.to_string());
    Secret { metadata: metadata(spec, namespace), type_: Some("Opaque".into()), string_data: Some(data), ..Secret::default() }
}

/// The Job of a run. It names its Secret but holds no value of it.
pub fn job(spec: &RunSpec<'_>, namespace: &str) -> Job {
    let name = object_name(spec.task_id);
    let quantities = BTreeMap::from([("cpu".to_string(), Quantity(spec.resources.cpu.clone())), ("memory".to_string(), Quantity(spec.resources.memory.clone()))]);
    let mut args = spec.arguments.to_vec();
    args.push(format!("$({INPUT_URL_KEY})"));
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(spec.image.to_string()),
        args: Some(args),
        env: Some(vec![EnvVar {
            name: INPUT_URL_KEY.into(),
            value_from: Some(EnvVarSource { secret_key_ref: Some(SecretKeySelector { name: name.clone(), key: INPUT_URL_KEY.into(), optional: Some(false) }), ..EnvVarSource::default() }),
            ..EnvVar::default()
        }]),
        env_from: Some(vec![EnvFromSource { secret_ref: Some(SecretEnvSource { name: name.clone(), optional: Some(false) }), ..EnvFromSource::default() }]),
        resources: Some(ResourceRequirements { requests: Some(quantities.clone()), limits: Some(quantities), ..ResourceRequirements::default() }),
        security_context: Some(SecurityContext { allow_privilege_escalation: Some(false), ..SecurityContext::default() }),
        ..Container::default()
    };
    let pod = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".into()),
        // The plugin gets no credentials of the cluster and no list of its services.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        ..PodSpec::default()
    };
    Job {
        metadata: metadata(spec, namespace),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(i64::try_from(spec.timeout_seconds).unwrap_or(i64::MAX)),
            ttl_seconds_after_finished: Some(i32::try_from(spec.ttl_seconds).unwrap_or(i32::MAX)),
            template: PodTemplateSpec { metadata: Some(ObjectMeta { labels: Some(labels(spec)), ..ObjectMeta::default() }), spec: Some(pod) },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The merge patch that makes the Job own its Secret (so the cluster deletes the Secret with the Job).
pub fn owned_by(job_name: &str, job_uid: &str) -> Value {
    let owner = OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job_name.to_string(),
        uid: job_uid.to_string(),
        block_owner_deletion: Some(false),
        controller: Some(false),
    };
    json!({"metadata": {"ownerReferences": [owner]}})
}

/// How a Job ended, from its status; `None` while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Its pod exited 0.
    Succeeded,
    /// It failed: the reason and message of its `Failed` condition.
    Failed(String),
}

/// Whether `job` has ended, and how.
pub fn job_end(job: &Job) -> Option<JobEnd> {
    let status = job.status.as_ref()?;
    for condition in status.conditions.iter().flatten().filter(|c| c.status == "True") {
        match condition.type_.as_str() {
            "Complete" => return Some(JobEnd::Succeeded),
            "Failed" => {
                let reason = condition.reason.clone().unwrap_or_else(|| "Failed".into());
                let message = condition.message.clone().unwrap_or_default();
                return Some(JobEnd::Failed(if message.is_empty() { reason } else { format!("{reason}: {message}") }));
            }
            _ => {}
        }
    }
    match (status.succeeded.unwrap_or(0), status.failed.unwrap_or(0)) {
        (s, _) if s > 0 => Some(JobEnd::Succeeded),
        (_, f) if f > 0 => Some(JobEnd::Failed("its pod failed".into())),
        _ => None,
    }
}

/// What the runner needs to run in a cluster: its ServiceAccount, a Role with only what it uses (Jobs,
/// Secrets, and reading pods and their logs, in one namespace), the RoleBinding, and a Deployment of the
/// `boefje-runner` binary with `BOEFJES_RUNTIME=kubernetes`, reading the rest of its settings from the
/// ConfigMap `kat-config` and the Secret `kat-secrets`.
pub fn runner_manifests(namespace: &str, image: &str) -> Vec<Value> {
    let name = "kat-boefje-runner";
    let labels = json!({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "kat"});
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace, "labels": labels}}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "rules": [
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch", "delete"]},
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get", "patch", "delete"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}
            ]
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": name,
                        "containers": [{
                            "name": "boefje-runner",
                            "image": image,
                            "command": ["boefje-runner"],
                            "ports": [{"name": "boefje-api", "containerPort": 8006}, {"name": "health", "containerPort": 8007}],
                            "env": [
                                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                                {"name": "BOEFJES_RUNNER_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "BOEFJES_RUNTIME", "value": "kubernetes"},
                                {"name": "BOEFJES_K8S_NAMESPACE", "value": namespace},
                                {"name": "BOEFJES_API_BIND", "value": "0.0.0.0:8006"},
                                {"name": "BOEFJES_API", "value": "http://$(POD_IP):8006"},
                                {"name": "BOEFJES_HEALTH_BIND", "value": "0.0.0.0:8007"}
                            ],
                            "readinessProbe": {"httpGet": {"path": "/health", "port": 8007}},
                            "envFrom": [{"configMapRef": {"name": "kat-config"}}, {"secretRef": {"name": "kat-secrets"}}],
                            "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true}
                        }]
                    }
                }
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(resources: &Resources) -> RunSpec<'_> {
        RunSpec {
            task_id: Uuid::parse_str("6a1c7e3e-52d3-4c43-9e47-4a0e29b1f0aa").expect("uuid"),
            boefje_id: "kat_nmap",
            organisation: "acme corp",
            image: "ghcr.io/minvws/openkat/nmap:latest",
            arguments: &[],
            timeout_seconds: 600,
            ttl_seconds: 300,
            resources,
            runner_id: "runner-0",
        }
    }

    #[test]
    fn labels_are_made_safe() {
        assert_eq!(label_value("dns-records"), "dns-records");
        assert_eq!(label_value("acme corp"), "acme_corp");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value("é"), "none");
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn the_job_names_its_secret_and_holds_no_value() {
        let resources = Resources::preset("m").expect("preset M");
        let spec = spec(&resources);
        let env = BTreeMap::from([("TOP_PORTS".to_string(), "100".to_string()), ("API_KEY".to_string(), "hunter2".to_string())]);
        let secret = secret(&spec, "scans", "http://runner:8006/api/v0/tasks/x/TOKEN", &env);
        let data = secret.string_data.as_ref().expect("string data");
        assert_eq!(data.get(INPUT_URL_KEY).map(String::as_str), Some("http://runner:8006/api/v0/tasks/x/TOKEN"));
        assert_eq!(data.get("API_KEY").map(String::as_str), Some("hunter2"));
        let job = serde_json::to_string(&job(&spec, "scans")).expect("json");
        for value in ["hunter2", "TOKEN", "100"] {
            assert!(!job.contains(value), "{value} in {job}");
        }
        let job: Value = serde_json::from_str(&job).expect("json");
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"], json!(["$(KAT_INPUT_URL)"]));
        assert_eq!(container["env"][0]["valueFrom"]["secretKeyRef"], json!({"name": "kat-boefje-6a1c7e3e-52d3-4c43-9e47-4a0e29b1f0aa", "key": "KAT_INPUT_URL", "optional": false}));
        assert_eq!(container["resources"]["limits"], json!({"cpu": "500m", "memory": "512Mi"}));
        assert_eq!(job["spec"]["backoffLimit"], 0);
        assert_eq!(job["spec"]["activeDeadlineSeconds"], 600);
        assert_eq!(job["metadata"]["labels"][ORGANISATION_LABEL], "acme_corp");
        assert_eq!(job["metadata"]["annotations"][ORGANISATION_LABEL], "acme corp");
    }

    #[test]
    fn object_names_hold_the_task() {
        let id = Uuid::new_v4();
        assert_eq!(task_of(&object_name(id)), Some(id));
        assert_eq!(task_of("other"), None);
    }
}
