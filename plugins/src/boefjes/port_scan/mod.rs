//! `port-scan`: a TCP connect scan with tokio whose raw output is nmap XML
//! (`boefje/nmap`), so that `kat_nmap_normalize` reads it like real nmap's.
//!
//! Settings: `PORTS` (nmap syntax, default the 1000 most common TCP ports),
//! `TIMEOUT_MS` (per connection, default 1000), `CONCURRENCY` (default 256).
//! A port that accepts is open, one that refuses is closed, one that does not
//! answer in time is filtered; only open ports are listed, as nmap does.

pub mod ports;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;

use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::Reference;

use super::{number_setting, Boefje, BoefjeError, BoefjeRun, JobEnv, RawFile};

/// The TCP connect scan boefje.
#[derive(Debug, Default)]
pub struct PortScan;

/// What a connection attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortState {
    /// The port accepted the connection.
    Open,
    /// The port refused it.
    Closed,
    /// No answer within the timeout.
    Filtered,
}

impl Boefje for PortScan {
    fn manifest(&self) -> BoefjeManifest {
        super::manifest("port-scan/boefje.json", include_str!("boefje.json"))
    }

    fn schema(&self) -> Option<SettingsSchema> {
        SettingsSchema::parse("port-scan/schema.json", include_str!("schema.json")).ok()
    }

    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            let ip: IpAddr = match input.object_type() {
                "IPAddressV4" | "IPAddressV6" => input.human_readable().parse().map_err(|_| BoefjeError::WrongInput(input.to_string()))?,
                _ => return Err(BoefjeError::WrongInput(input.to_string())),
            };
            let ports = match env.get("PORTS") {
                Some(spec) => ports::parse_ports(spec.expose()).map_err(|e| BoefjeError::Setting { key: "PORTS".into(), reason: e.reason.to_string() })?,
                None => ports::top_ports(),
            };
            let timeout = Duration::from_millis(number_setting(env, "TIMEOUT_MS", 1000u64)?.max(1));
            let concurrency = number_setting(env, "CONCURRENCY", 256usize)?.clamp(1, 4096);
            let started = std::time::SystemTime::now();
            let results = scan(ip, &ports, timeout, concurrency).await;
            let xml = nmap_xml(ip, &results, started, &ports);
            Ok(vec![RawFile { name: "nmap.xml".into(), mime_types: vec!["boefje/nmap".into()], content: xml.into_bytes() }])
        })
    }
}

/// Try every port, at most `concurrency` at once; results sorted by port.
pub async fn scan(ip: IpAddr, ports: &[u16], timeout: Duration, concurrency: usize) -> Vec<(u16, PortState)> {
    let mut results = Vec::with_capacity(ports.len());
    let mut running = JoinSet::new();
    let mut queue = ports.iter().copied();
    loop {
        while running.len() < concurrency {
            let Some(port) = queue.next() else { break };
            running.spawn(async move { (port, probe(SocketAddr::new(ip, port), timeout).await) });
        }
        match running.join_next().await {
            Some(Ok(result)) => results.push(result),
            Some(Err(_)) => {}
            None => break,
        }
    }
    results.sort_unstable();
    results
}

async fn probe(addr: SocketAddr, timeout: Duration) -> PortState {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => PortState::Open,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => PortState::Closed,
        Ok(Err(_)) | Err(_) => PortState::Filtered,
    }
}

/// The service name nmap's port table gives for common ports.
fn service_name(port: u16) -> &'static str {
    match port {
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 => "smtp",
        53 => "domain",
        80 => "http",
        110 => "pop3",
        143 => "imap",
        443 => "https",
        445 => "microsoft-ds",
        993 => "imaps",
        995 => "pop3s",
        3306 => "mysql",
        3389 => "ms-wbt-server",
        5432 => "postgresql",
        6379 => "redis",
        8080 => "http-proxy",
        _ => "unknown",
    }
}

fn nmap_xml(ip: IpAddr, results: &[(u16, PortState)], started: std::time::SystemTime, ports: &[u16]) -> String {
    let epoch = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let finished = std::time::SystemTime::now();
    let addrtype = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
    let closed = results.iter().filter(|r| r.1 == PortState::Closed).count();
    let filtered = results.iter().filter(|r| r.1 == PortState::Filtered).count();
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<nmaprun scanner=\"kat-port-scan\" args=\"port-scan {ip} ({} ports)\" start=\"{}\" version=\"{}\" xmloutputversion=\"1.05\">\n",
        ports.len(),
        epoch(started),
        env!("CARGO_PKG_VERSION")
    ));
    xml.push_str(&format!("<scaninfo type=\"connect\" protocol=\"tcp\" numservices=\"{}\"/>\n", ports.len()));
    xml.push_str(&format!("<host starttime=\"{}\" endtime=\"{}\"><status state=\"up\" reason=\"user-set\"/>\n", epoch(started), epoch(finished)));
    xml.push_str(&format!("<address addr=\"{ip}\" addrtype=\"{addrtype}\"/>\n<ports>"));
    if closed > 0 {
        xml.push_str(&format!("<extraports state=\"closed\" count=\"{closed}\"/>"));
    }
    if filtered > 0 {
        xml.push_str(&format!("<extraports state=\"filtered\" count=\"{filtered}\"/>"));
    }
    xml.push('\n');
    for (port, _) in results.iter().filter(|r| r.1 == PortState::Open) {
        xml.push_str(&format!(
            "<port protocol=\"tcp\" portid=\"{port}\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"0\"/><service name=\"{}\" method=\"table\" conf=\"3\"/></port>\n",
            service_name(*port)
        ));
    }
    xml.push_str("</ports>\n</host>\n");
    xml.push_str(&format!(
        "<runstats><finished time=\"{}\" elapsed=\"{:.2}\"/><hosts up=\"1\" down=\"0\" total=\"1\"/></runstats>\n</nmaprun>\n",
        epoch(finished),
        finished.duration_since(started).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    ));
    xml
}
