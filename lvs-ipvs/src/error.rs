//! Errors: the operation, the kernel's errno, ipvsadm's wording for it, and
//! a clearer explanation where ipvsadm's is poor.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::model::ServiceKey;

/// The operation an error comes from (ipvsadm's `ipvs_func`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Opening the socket and finding the family.
    Connect,
    /// Adding a service.
    AddService {
        /// The service.
        key: ServiceKey,
        /// Its scheduler.
        scheduler: String,
        /// Its persistence engine.
        persistence_engine: Option<String>,
    },
    /// Editing a service.
    EditService {
        /// The service.
        key: ServiceKey,
        /// Its scheduler.
        scheduler: String,
        /// Its persistence engine.
        persistence_engine: Option<String>,
    },
    /// Deleting a service.
    DeleteService(ServiceKey),
    /// Reading a service.
    GetService(ServiceKey),
    /// Listing the services.
    GetServices,
    /// Adding a destination to this service.
    AddDest(ServiceKey),
    /// Editing a destination of this service.
    EditDest(ServiceKey),
    /// Deleting a destination of this service.
    DeleteDest(ServiceKey),
    /// Listing this service's destinations.
    GetDests(ServiceKey),
    /// Starting a sync daemon.
    StartDaemon,
    /// Stopping a sync daemon.
    StopDaemon,
    /// Listing the sync daemons.
    GetDaemons,
    /// Setting the timeouts.
    SetTimeouts,
    /// Reading the timeouts.
    GetTimeouts,
    /// Reading the version and table size.
    GetInfo,
    /// Zeroing counters.
    Zero(Option<ServiceKey>),
    /// Deleting every service.
    Flush,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Connect => f.write_str("connecting to IPVS"),
            Op::AddService { key, .. } => write!(f, "adding service {key}"),
            Op::EditService { key, .. } => write!(f, "editing service {key}"),
            Op::DeleteService(key) => write!(f, "deleting service {key}"),
            Op::GetService(key) => write!(f, "getting service {key}"),
            Op::GetServices => f.write_str("listing services"),
            Op::AddDest(key) => write!(f, "adding a destination to {key}"),
            Op::EditDest(key) => write!(f, "editing a destination of {key}"),
            Op::DeleteDest(key) => write!(f, "deleting a destination of {key}"),
            Op::GetDests(key) => write!(f, "listing the destinations of {key}"),
            Op::StartDaemon => f.write_str("starting a sync daemon"),
            Op::StopDaemon => f.write_str("stopping a sync daemon"),
            Op::GetDaemons => f.write_str("listing sync daemons"),
            Op::SetTimeouts => f.write_str("setting timeouts"),
            Op::GetTimeouts => f.write_str("getting timeouts"),
            Op::GetInfo => f.write_str("getting IPVS information"),
            Op::Zero(Some(key)) => write!(f, "zeroing the counters of {key}"),
            Op::Zero(None) => f.write_str("zeroing all counters"),
            Op::Flush => f.write_str("flushing the table"),
        }
    }
}

/// What went wrong.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The kernel refused with this errno.
    Kernel(i32),
    /// No answer within the handle's timeout.
    Timeout(Duration),
    /// The `IPVS` generic-netlink family does not exist: no IPVS in the kernel.
    NotAvailable,
    /// A socket call failed: `during` says which (empty, `send: `, `receive: `, `poll: `).
    Io {
        /// The call, as the message starts.
        during: &'static str,
        /// The system's error, kept as the error's source.
        source: Arc<std::io::Error>,
    },
    /// A message could not be encoded, or a reply made no sense.
    Protocol(String),
}

impl PartialEq for ErrorKind {
    /// Socket errors compare by their kind and text (an `io::Error` has no
    /// equality of its own).
    fn eq(&self, other: &ErrorKind) -> bool {
        match (self, other) {
            (ErrorKind::Kernel(a), ErrorKind::Kernel(b)) => a == b,
            (ErrorKind::Timeout(a), ErrorKind::Timeout(b)) => a == b,
            (ErrorKind::NotAvailable, ErrorKind::NotAvailable) => true,
            (ErrorKind::Io { during: a, source: x }, ErrorKind::Io { during: b, source: y }) => {
                a == b && x.kind() == y.kind() && x.to_string() == y.to_string()
            }
            (ErrorKind::Protocol(a), ErrorKind::Protocol(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ErrorKind {}

impl ErrorKind {
    /// A socket call's failure.
    pub fn io(during: &'static str, source: std::io::Error) -> ErrorKind {
        ErrorKind::Io {
            during,
            source: Arc::new(source),
        }
    }
}

/// An IPVS operation that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsError {
    /// What was being done.
    pub op: Op,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl IpvsError {
    /// The failure `kind` of `op`.
    pub fn new(op: Op, kind: ErrorKind) -> IpvsError {
        IpvsError { op, kind }
    }

    /// The kernel's errno, if the kernel refused.
    pub fn errno(&self) -> Option<i32> {
        match self.kind {
            ErrorKind::Kernel(errno) => Some(errno),
            _ => None,
        }
    }

    /// ipvsadm's message for this failure (`ipvs_strerror()`), word for word.
    pub fn ipvsadm_message(&self) -> String {
        let errno = match &self.kind {
            ErrorKind::Kernel(errno) => *errno,
            ErrorKind::Timeout(after) => return format!("No answer from the kernel within {after:?}"),
            ErrorKind::NotAvailable => return "Protocol not available".to_owned(),
            ErrorKind::Io { during, source } => return format!("{during}{source}"),
            ErrorKind::Protocol(message) => return message.clone(),
        };
        let by_function = match (&self.op, errno) {
            (Op::AddService { .. }, libc::EEXIST) => Some("Service already exists"),
            (Op::AddService { .. } | Op::EditService { .. }, libc::ENOENT) => {
                Some("Scheduler or persistence engine not found")
            }
            (
                Op::EditService { .. }
                | Op::DeleteService(_)
                | Op::Zero(_)
                | Op::GetServices
                | Op::GetDests(_)
                | Op::GetService(_),
                libc::ESRCH,
            ) => Some("No such service"),
            (Op::AddDest(_) | Op::EditDest(_) | Op::DeleteDest(_), libc::ESRCH) => {
                Some("Service not defined")
            }
            (Op::AddDest(_), libc::EEXIST) => Some("Destination already exists"),
            (Op::EditDest(_) | Op::DeleteDest(_), libc::ENOENT) => Some("No such destination"),
            (Op::StartDaemon, libc::EEXIST) => Some("Daemon has already run"),
            (Op::StopDaemon, libc::ESRCH) => Some("No daemon is running"),
            _ => None,
        };
        if let Some(message) = by_function {
            return message.to_owned();
        }
        match errno {
            libc::EPERM => "Permission denied (you must be root)".to_owned(),
            libc::EINVAL => {
                "Invalid operation.  Possibly wrong module version, address not unicast, ...".to_owned()
            }
            libc::ENOPROTOOPT => "Protocol not available".to_owned(),
            libc::ENOMEM => "Memory allocation problem".to_owned(),
            libc::EOPNOTSUPP => "Operation not supported with IPv6".to_owned(),
            libc::EAFNOSUPPORT => "Operation not supported with specified address family".to_owned(),
            libc::EMSGSIZE => "Module is wrong version".to_owned(),
            _ => strerror(errno),
        }
    }

    /// A plainer explanation where ipvsadm's message leaves the reader guessing.
    pub fn explanation(&self) -> Option<String> {
        let errno = self.errno();
        match (&self.op, errno) {
            (Op::AddService { scheduler, persistence_engine, .. } | Op::EditService { scheduler, persistence_engine, .. }, Some(libc::ENOENT)) => {
                let mut text = format!("the kernel has no scheduler `{scheduler}`: is the module ip_vs_{scheduler} installed?");
                if let Some(pe) = persistence_engine {
                    text.push_str(&format!(" (or no persistence engine `{pe}`: module ip_vs_pe_{pe})"));
                }
                Some(text)
            }
            (Op::AddDest(key) | Op::EditDest(key) | Op::DeleteDest(key), Some(libc::ESRCH)) => {
                Some(format!("there is no virtual service {key}; add it first"))
            }
            (Op::AddDest(_) | Op::EditDest(_), Some(libc::ERANGE)) => {
                Some("the weight is negative, or the lower threshold is above the upper one".to_owned())
            }
            (Op::AddDest(_) | Op::EditDest(_), Some(libc::EINVAL)) => Some(
                "the kernel rejected the destination: its address must be unicast; a destination of another address \
                 family than the service needs tunnelling (and no sync daemon); a GUE tunnel needs a port"
                    .to_owned(),
            ),
            (Op::AddService { .. } | Op::EditService { .. }, Some(libc::EINVAL)) => Some(
                "the kernel rejected the service: an IPv6 netmask must be a prefix length of 1 to 128".to_owned(),
            ),
            (Op::StartDaemon, Some(libc::ENODEV)) => Some("the multicast interface does not exist".to_owned()),
            (Op::StartDaemon, Some(libc::EINVAL)) => Some(
                "the kernel rejected the daemon: the group must be multicast, and no service may have destinations \
                 of another address family"
                    .to_owned(),
            ),
            (_, Some(libc::EPERM)) => Some("IPVS needs CAP_NET_ADMIN, even to read the table".to_owned()),
            (_, _) if self.kind == ErrorKind::NotAvailable => Some(
                "this kernel has no IPVS: load the ip_vs module (modprobe ip_vs) or build it in".to_owned(),
            ),
            _ => None,
        }
    }
}

/// The C library's text for an errno, without Rust's "(os error N)".
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

impl fmt::Display for IpvsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.ipvsadm_message())?;
        if let Some(explanation) = self.explanation() {
            write!(f, " ({explanation})")?;
        }
        Ok(())
    }
}

impl std::error::Error for IpvsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_error_is_kept_as_the_source() {
        let error = IpvsError::new(
            Op::Connect,
            ErrorKind::io("send: ", std::io::Error::from_raw_os_error(libc::ENOBUFS)),
        );
        let source = std::error::Error::source(&error).expect("a source");
        let io = source.downcast_ref::<std::io::Error>().expect("an io::Error");
        assert_eq!(io.raw_os_error(), Some(libc::ENOBUFS));
        assert!(
            error.to_string().starts_with("connecting to IPVS: send: "),
            "{error}"
        );
        assert_eq!(error.clone(), error);
    }
}
