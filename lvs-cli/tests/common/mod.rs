//! What the kernel tests of lvs-cli share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use lvs_ipvs::{ErrorKind, Ipvs};
use testkit::{kernel_lab, KernelProbe, Netns};

/// The gate of a kernel test: a fresh namespace named after `prefix` where
/// IPVS answers, or `None` (with a printed reason) outside the lab.
pub fn ipvs_lab(test: &str, prefix: &str) -> Option<Netns> {
    kernel_lab(test, prefix, || match Ipvs::connect_without_modprobe() {
        Ok(_) => KernelProbe::Ready,
        Err(e) if e.kind == ErrorKind::NotAvailable => KernelProbe::NotAvailable,
        Err(e) => KernelProbe::Failed(e.to_string()),
    })
}
