//! Adds a service with two destinations and prints what the kernel holds.
//! Needs root and a kernel with IPVS; `cargo xtask test` runs it in the lab.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use lvs_ipvs::{Destination, ForwardMethod, Ipvs, Protocol, Service, ServiceKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut ipvs = Ipvs::connect()?;
    let key = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.0.2.10".parse()?,
        port: 80,
    };
    ipvs.add_service(&Service::new(key, "wlc"))?;
    for real in ["10.0.0.1", "10.0.0.2"] {
        ipvs.add_destination(
            &key,
            &Destination::at(
                std::net::SocketAddr::new(real.parse()?, 80),
                ForwardMethod::Masquerade,
            )
            .weight(1),
        )?;
    }
    let service = ipvs.service(&key)?;
    println!("{} {}", service.key, service.scheduler);
    for dest in ipvs.destinations(&key)? {
        println!("  -> {}:{} weight {}", dest.addr, dest.port, dest.weight);
    }
    ipvs.delete_service(&key)?;
    Ok(())
}
