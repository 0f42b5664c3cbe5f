//! A real DNS server for tests: a UDP responder on 127.0.0.1, built on
//! hickory-proto, that serves the zone `example.test` and answers NXDOMAIN
//! for every other name. It runs on the caller's tokio runtime.
//! [`start_slow_dns_server`] also answers every name under `example.test`
//! with the zone's A, AAAA, MX and TXT records (no SOA or NS: those belong to
//! the apex), each answer after a delay (a scan that lasts).

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
    serve(std::time::Duration::ZERO, false).await
}

/// Serve the test zone on a free UDP port for `example.test` and every name under it (`h1.example.test` gets
/// the zone's records under its own name), answering each query after `delay`.
pub async fn start_slow_dns_server(delay: std::time::Duration) -> u16 {
    serve(delay, true).await
}

async fn serve(delay: std::time::Duration, subdomains: bool) -> u16 {
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
                let asked = query.name().to_ascii().to_ascii_lowercase();
                let apex = asked == "example.test.";
                if apex || (subdomains && asked.ends_with(".example.test.")) {
                    // Below the apex, as in real DNS: no SOA or NS of its own (the name is in example.test's zone).
                    let own = apex || !matches!(query.query_type(), RecordType::SOA | RecordType::NS);
                    for record in zone_at(query.name(), query.query_type()).into_iter().filter(|_| own) {
                        response.add_answer(record);
                    }
                } else {
                    response.metadata.response_code = ResponseCode::NXDomain;
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
