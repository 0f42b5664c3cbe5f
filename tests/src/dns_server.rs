//! A real DNS server for tests: a UDP responder on 127.0.0.1, built on
//! hickory-proto, that serves the zone `example.test` and answers NXDOMAIN
//! for every other name. It runs on the caller's tokio runtime.
//! [`start_slow_dns_server`] also answers every name under `example.test`
//! with the zone's A, AAAA, MX and TXT records (no SOA or NS: those belong to
//! the apex), each answer after a delay (a scan that lasts).
//! [`start_dns_server_for`] serves only the names and addresses a test gives.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, NS, SOA, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

fn name(text: &str) -> Name {
    Name::from_str(text).unwrap_or_else(|_| Name::root())
}

/// The test zone: `example.test` with A, AAAA, MX, NS, TXT and SOA records. Its addresses are loopback
/// addresses (127.0.0.2, 127.0.0.3, ::1), so a scan that follows them stays on this machine.
pub fn zone(rtype: RecordType) -> Vec<Record> {
    zone_at(&name("example.test."), rtype)
}

/// The test zone's records of `rtype`, owned by `owner`.
fn zone_at(owner: &Name, rtype: RecordType) -> Vec<Record> {
    let data: Vec<RData> = match rtype {
        RecordType::A => vec![RData::A(A(Ipv4Addr::new(127, 0, 0, 2))), RData::A(A(Ipv4Addr::new(127, 0, 0, 3)))],
        RecordType::AAAA => vec![RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))],
        RecordType::MX => vec![RData::MX(MX::new(10, name("mail.example.test.")))],
        RecordType::NS => vec![RData::NS(NS(name("ns1.example.test.")))],
        RecordType::TXT => vec![RData::TXT(TXT::new(vec!["v=spf1 -all".into()]))],
        RecordType::SOA => vec![RData::SOA(SOA::new(name("ns1.example.test."), name("hostmaster.example.test."), 2024010101, 3600, 600, 86400, 300))],
        _ => vec![],
    };
    data.into_iter().map(|d| Record::from_rdata(owner.clone(), 300, d)).collect()
}

/// Serve the test zone on a free UDP port; answers NXDOMAIN for other names.
pub async fn start_dns_server() -> u16 {
    serve(std::time::Duration::ZERO, std::sync::Arc::new(|name: &Name, rtype| zone_answer(name, rtype, false))).await
}

/// Serve the test zone on a free UDP port for `example.test` and every name under it (`h1.example.test` gets
/// the zone's records under its own name), answering each query after `delay`.
pub async fn start_slow_dns_server(delay: std::time::Duration) -> u16 {
    serve(delay, std::sync::Arc::new(|name: &Name, rtype| zone_answer(name, rtype, true))).await
}

/// Serve only `hosts`, each name with one A record (TTL 300); other record types of those names get an empty
/// answer, other names NXDOMAIN. A test that runs its own servers on a loopback address of its own points a name
/// there, so no other test's scan reaches them.
pub async fn start_dns_server_for(hosts: &[(&str, Ipv4Addr)]) -> u16 {
    let hosts: Vec<(String, Ipv4Addr)> = hosts.iter().map(|(n, a)| (format!("{}.", n.trim_end_matches('.').to_ascii_lowercase()), *a)).collect();
    serve(
        std::time::Duration::ZERO,
        std::sync::Arc::new(move |name: &Name, rtype| {
            let asked = name.to_ascii().to_ascii_lowercase();
            let found: Vec<Record> = hosts.iter().filter(|(n, _)| *n == asked).map(|(_, a)| Record::from_rdata(name.clone(), 300, RData::A(A(*a)))).collect();
            let known = hosts.iter().any(|(n, _)| *n == asked);
            known.then(|| if rtype == RecordType::A { found } else { Vec::new() })
        }),
    )
    .await
}

/// The test zone's answer for `name`: its records at the apex, under it too when `subdomains` (no SOA or NS of
/// their own: the names are in example.test's zone, as in real DNS); `None` (NXDOMAIN) for other names.
fn zone_answer(name: &Name, rtype: RecordType, subdomains: bool) -> Option<Vec<Record>> {
    let asked = name.to_ascii().to_ascii_lowercase();
    let apex = asked == "example.test.";
    if !(apex || (subdomains && asked.ends_with(".example.test."))) {
        return None;
    }
    let own = apex || !matches!(rtype, RecordType::SOA | RecordType::NS);
    Some(zone_at(name, rtype).into_iter().filter(|_| own).collect())
}

/// What a server answers for a name and type: the records, or `None` for NXDOMAIN.
type Answer = std::sync::Arc<dyn Fn(&Name, RecordType) -> Option<Vec<Record>> + Send + Sync>;

async fn serve(delay: std::time::Duration, answer: Answer) -> u16 {
    let socket = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("binding a UDP port on 127.0.0.1"));
    let port = socket.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else { return };
            let Ok(request) = Message::from_vec(&buf[..n]) else { continue };
            let mut response = Message::response(request.metadata.id, OpCode::Query);
            response.metadata.recursion_desired = request.metadata.recursion_desired;
            response.metadata.recursion_available = true;
            if let Some(query) = request.queries.first() {
                response.add_query(query.clone());
                match answer(query.name(), query.query_type()) {
                    Some(records) => records.into_iter().for_each(|r| {
                        response.add_answer(r);
                    }),
                    None => response.metadata.response_code = ResponseCode::NXDomain,
                }
            }
            let socket = socket.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            });
        }
    });
    port
}
