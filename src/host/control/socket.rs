//! The system calls std does not offer for Unix sockets: a listener whose
//! file is owner-only from the moment it exists, and the peer's credentials.

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// The mode of the socket file, whatever the umask.
pub const SOCKET_MODE: u32 = 0o600;

/// Pending connections the kernel queues before the host accepts them.
const BACKLOG: libc::c_int = 128;

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn socket_address(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) value.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= address.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a socket path must be shorter than {} bytes (this one has {}); choose a shorter one",
                address.sun_path.len(),
                bytes.len()
            ),
        ));
    }
    for (to, from) in address.sun_path.iter_mut().zip(bytes) {
        *to = *from as libc::c_char;
    }
    let length = std::mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1;
    Ok((address, length as libc::socklen_t))
}

/// Listens on `path`, a file of mode 0600 whatever the umask, which appears
/// only once the socket accepts connections.
///
/// A client that sees the file must be able to connect: bind() creates the
/// file and listen() comes after, so in between a connect is refused. The
/// socket is therefore bound under a temporary name beside `path`, made to
/// listen, and then hard-linked into place. link() never replaces a file, so
/// something that appeared at `path` meanwhile is not clobbered either.
pub fn listen_owner_only(path: &Path) -> io::Result<UnixListener> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    if socket_address(&temporary).is_err() {
        // Too long a path for the temporary name, not for `path`: bind in place.
        return bind_and_listen(path);
    }
    let _ = std::fs::remove_file(&temporary); // a leftover of a host that had our pid
    let listener = bind_and_listen(&temporary)?;
    let placed = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    placed.map(|()| listener)
}

/// Binds and listens on `path`, a file of mode 0600 whatever the umask.
///
/// Linux creates the file with the socket's own mode less the umask, so the
/// socket is made 0600 before bind(): the file never exists with a wider
/// mode. A umask that takes the owner's bits too is corrected before
/// listen(); until listen() nobody can connect, so there is no window.
fn bind_and_listen(path: &Path) -> io::Result<UnixListener> {
    let (address, length) = socket_address(path)?;
    // SAFETY: socket() takes no pointers; a descriptor it returns is ours.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    check(fd)?;
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fchmod on a descriptor we own; no pointers.
    check(unsafe { libc::fchmod(socket.as_raw_fd(), SOCKET_MODE as libc::mode_t) })?;
    // SAFETY: `address` is a valid sockaddr_un and `length` its used size.
    check(unsafe {
        libc::bind(socket.as_raw_fd(), (&address as *const libc::sockaddr_un).cast::<libc::sockaddr>(), length)
    })?;
    let listening = exact_mode(path).and_then(|()| {
        // SAFETY: listen on a descriptor we own; no pointers.
        check(unsafe { libc::listen(socket.as_raw_fd(), BACKLOG) })
    });
    if let Err(error) = listening {
        let _ = std::fs::remove_file(path);
        return Err(error);
    }
    Ok(UnixListener::from(socket))
}

fn exact_mode(path: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(path)?.permissions().mode() & 0o7777 != SOCKET_MODE {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    }
    Ok(())
}

/// Who is at the other end of a connection, as the kernel saw it connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
}

pub fn peer(stream: &UnixStream) -> io::Result<Peer> {
    // SAFETY: ucred is plain data; all zeroes is a valid value.
    let mut credentials: libc::ucred = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `length` bytes into `credentials`,
    // which is that large, and the new length into `length`.
    check(unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut credentials as *mut libc::ucred).cast::<c_void>(),
            &mut length,
        )
    })?;
    Ok(Peer { pid: credentials.pid, uid: credentials.uid })
}

/// The user the host runs as.
pub fn host_uid() -> u32 {
    crate::ownership::effective_uid()
}

/// Only the host's own user and root may work on it.
pub fn may_connect(peer_uid: u32, host_uid: u32) -> bool {
    peer_uid == host_uid || peer_uid == 0
}

/// Makes a thread blocked in accept() on `listener` return (with an error).
pub fn wake_accept(listener: &UnixListener) {
    // SAFETY: shutdown on a descriptor the listener owns; no pointers.
    unsafe {
        libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_owner_only_and_the_peer_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = listen_owner_only(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, SOCKET_MODE);
        let client = UnixStream::connect(&path).unwrap();
        let (server, _) = listener.accept().unwrap();
        let peer = peer(&server).unwrap();
        assert_eq!(peer.uid, host_uid());
        assert_eq!(peer.pid, std::process::id() as i32);
        drop(client);
    }

    #[test]
    fn nothing_at_the_path_is_replaced_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, b"keep me").unwrap();
        let error = listen_owner_only(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists, "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("s")]);
    }

    /// A client that sees the file connects: the file appears only once the
    /// socket listens. (Bound in place, a watcher polling for the file could
    /// land between bind() and listen() and be refused.)
    #[test]
    fn a_client_that_sees_the_file_can_connect() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..1000 {
            let path = dir.path().join(format!("s{round}"));
            let watched = path.clone();
            let watcher = std::thread::spawn(move || {
                while std::fs::symlink_metadata(&watched).is_err() {
                    std::hint::spin_loop();
                }
                UnixStream::connect(&watched)
            });
            let listener = listen_owner_only(&path).unwrap();
            let connected = watcher.join().unwrap();
            assert!(connected.is_ok(), "round {round}: {:?}", connected.err());
            drop(listener);
        }
    }

    #[test]
    fn only_the_host_user_and_root_may_connect() {
        assert!(may_connect(1000, 1000));
        assert!(may_connect(0, 1000));
        assert!(!may_connect(1001, 1000));
        assert!(!may_connect(65534, 0));
    }

    #[test]
    fn a_path_too_long_is_named() {
        let long = Path::new("/tmp").join("x".repeat(200));
        let error = listen_owner_only(&long).unwrap_err();
        assert!(error.to_string().contains("shorter than"), "{error}");
    }
}
