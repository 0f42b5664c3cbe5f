//! `kat k8s manifests`: print, as one YAML stream for `kubectl apply -f -`,
//! what the boefje runner needs to run container plugins as Jobs: its
//! ServiceAccount, a Role with only the verbs it uses (Jobs; Secrets; pods
//! and their logs, read-only) in one namespace, the RoleBinding, and its
//! Deployment. The objects come from `kat_boefje_runner::runner::kubernetes::spec`.

use std::io::Write;

use anyhow::Context;
use kat_boefje_runner::runner::kubernetes::spec::runner_manifests;

/// `kat k8s ...`
#[derive(Debug, clap::Args)]
pub struct K8sArgs {
    #[command(subcommand)]
    command: K8sCommand,
}

#[derive(Debug, clap::Subcommand)]
enum K8sCommand {
    /// Print the ServiceAccount, Role, RoleBinding and Deployment of the boefje runner as YAML. The
    /// Deployment reads the rest of its settings (SCHEDULER_API, BYTES_API, ...) from the ConfigMap
    /// `kat-config` and the Secret `kat-secrets`.
    Manifests(ManifestArgs),
}

#[derive(Debug, clap::Args)]
struct ManifestArgs {
    /// The namespace of the runner and its Jobs.
    #[arg(long, default_value = "kat")]
    namespace: String,
    /// The image with the `boefje-runner` binary.
    #[arg(long, default_value = "kat:latest")]
    image: String,
}

/// Run `kat k8s`.
pub fn run(args: &K8sArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let K8sCommand::Manifests(manifests) = &args.command;
    for (i, object) in runner_manifests(&manifests.namespace, &manifests.image).iter().enumerate() {
        if i > 0 {
            writeln!(out, "---")?;
        }
        let yaml = serde_saphyr::to_string(object).context("writing a manifest as YAML")?;
        write!(out, "{yaml}")?;
        if !yaml.ends_with('\n') {
            writeln!(out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_four_yaml_documents_with_least_privilege() {
        let args = K8sArgs { command: K8sCommand::Manifests(ManifestArgs { namespace: "scans".into(), image: "registry.local/kat:1".into() }) };
        let mut out = Vec::new();
        run(&args, &mut out).expect("manifests");
        let text = String::from_utf8(out).expect("utf-8");
        let documents: Vec<&str> = text.split("\n---\n").collect();
        assert_eq!(documents.len(), 4, "{text}");
        for (document, kind) in documents.iter().zip(["ServiceAccount", "Role", "RoleBinding", "Deployment"]) {
            assert!(document.contains(&format!("kind: {kind}")) && document.contains("namespace: scans"), "{document}");
        }
        // The Role grants nothing beyond Jobs, Secrets and reading pods and their logs.
        let role = runner_manifests("scans", "i")[1].clone();
        let resources: Vec<String> = role["rules"].as_array().expect("rules").iter().flat_map(|r| r["resources"].as_array().expect("resources").iter().map(|v| v.as_str().unwrap_or_default().to_string())).collect();
        assert_eq!(resources, ["jobs", "secrets", "pods", "pods/log"]);
        assert!(!text.contains('*'), "no wildcard verbs or resources: {text}");
        assert!(documents[3].contains("registry.local/kat:1") && documents[3].contains("BOEFJES_RUNTIME"), "{}", documents[3]);
    }
}
