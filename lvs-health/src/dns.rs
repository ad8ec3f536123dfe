//! DNS checks: one query, over UDP or TCP, encoded and read by
//! hickory-proto; up when the answer carries the expected response code and,
//! when one is asked for, a record with the expected value.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use lvs_core::check::{DnsCheck, Failure, Rcode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::run::{connect, datagram_socket};

pub(crate) async fn run(
    check: &DnsCheck,
    target: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
) -> Result<(), Failure> {
    // An id nobody can guess, so that a forged answer is unlikely to be taken.
    let id = crate::run::random_u16();
    let query = encode(check, id)?;
    let reply = if check.tcp {
        over_tcp(&query, target, source, limit).await?
    } else {
        over_udp(&query, target, source, limit).await?
    };
    let message = Message::from_vec(&reply).map_err(|e| Failure::Dns(format!("unreadable answer: {e}")))?;
    if message.id() != id || message.message_type() != MessageType::Response {
        return Err(Failure::Dns("the answer is not to this query".to_owned()));
    }
    let got = message.response_code();
    if got != response_code(check.rcode) {
        // Named as lvs.cf's `rcode` names them, where it does.
        let name = Rcode::ALL
            .iter()
            .find(|(rcode, _, _)| response_code(*rcode) == got)
            .map_or_else(|| got.to_string(), |(_, keyword, _)| (*keyword).to_owned());
        return Err(Failure::Dns(format!("response code {name}, not {}", check.rcode)));
    }
    let Some(expected) = &check.answer else {
        return Ok(());
    };
    let expected_ip = IpAddr::from_str(expected).ok();
    let expected_text = expected.trim_end_matches('.');
    let found = message.answers().iter().any(|record| {
        let data = record.data();
        match (expected_ip, data.ip_addr()) {
            (Some(want), Some(got)) => want == got,
            // Names end in a dot and texts come quoted; neither is part of the value.
            _ => data
                .to_string()
                .trim_matches('"')
                .trim_end_matches('.')
                .eq_ignore_ascii_case(expected_text),
        }
    });
    if found {
        Ok(())
    } else {
        let got: Vec<String> = message.answers().iter().map(|r| r.data().to_string()).collect();
        Err(Failure::Dns(format!(
            "no answer is {expected} (got: {})",
            got.join(", ")
        )))
    }
}

fn encode(check: &DnsCheck, id: u16) -> Result<Vec<u8>, Failure> {
    let name =
        Name::from_ascii(&check.name).map_err(|e| Failure::Dns(format!("bad name {}: {e}", check.name)))?;
    // lvs-cf's keywords are the record types' names.
    let record = RecordType::from_str(check.record.keyword())
        .map_err(|e| Failure::Dns(format!("record type {}: {e}", check.record)))?;
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, record));
    message.to_vec().map_err(|e| Failure::Dns(e.to_string()))
}

fn response_code(rcode: Rcode) -> ResponseCode {
    match rcode {
        Rcode::FormErr => ResponseCode::FormErr,
        Rcode::ServFail => ResponseCode::ServFail,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::NotImp => ResponseCode::NotImp,
        Rcode::Refused => ResponseCode::Refused,
        _ => ResponseCode::NoError,
    }
}

async fn over_udp(
    query: &[u8],
    target: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
) -> Result<Vec<u8>, Failure> {
    let socket = datagram_socket(target, source).await?;
    socket
        .send(query)
        .await
        .map_err(|e| Failure::Send(e.to_string()))?;
    let mut buffer = vec![0u8; 4096];
    // A datagram that is not the answer (another id: late, or forged) is
    // skipped; the answer may still come before the deadline.
    let id = query.get(..2).unwrap_or_default();
    let answer = async {
        loop {
            let read = socket
                .recv(&mut buffer)
                .await
                .map_err(|e| Failure::Read(e.to_string()))?;
            if read >= 12 && buffer.get(..2) == Some(id) {
                return Ok(buffer[..read].to_vec());
            }
        }
    };
    match timeout(limit, answer).await {
        Err(_) => Err(Failure::NoReply),
        Ok(result) => result,
    }
}

/// RFC 1035 4.2.2: each message is preceded by its length in two bytes.
async fn over_tcp(
    query: &[u8],
    target: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
) -> Result<Vec<u8>, Failure> {
    let mut stream = connect(target, source, limit).await?;
    let length = u16::try_from(query.len()).map_err(|_| Failure::Send("query too long".to_owned()))?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    let exchange = async {
        stream
            .write_all(&framed)
            .await
            .map_err(|e| Failure::Send(e.to_string()))?;
        let length = stream
            .read_u16()
            .await
            .map_err(|e| Failure::Read(e.to_string()))?;
        let mut reply = vec![0u8; usize::from(length)];
        stream
            .read_exact(&mut reply)
            .await
            .map_err(|e| Failure::Read(e.to_string()))?;
        Ok(reply)
    };
    match timeout(limit, exchange).await {
        Err(_) => Err(Failure::ReadTimeout),
        Ok(result) => result,
    }
}
