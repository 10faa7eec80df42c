//! A host's Unix-domain namespace: socket addresses and how they are checked
//! (`unix_validate_addr`, `unix_mkname_bsd`), path names in the host's filesystem, abstract
//! names per socket type (`unix_abstract_hash` mixes the type in), `bind()`, autobind
//! (`unix_autobind`), and finding the socket an address names (`unix_find_other`).

use super::vfs::{InodeKind, MAY_WRITE, Vfs};
use super::{UnixId, UnixName, UnixType};
use crate::errno::Errno;
use crate::process::Cred;
use crate::syscall::{SockAddr, UnixAddr};
use crate::world::World;
use sim_core::rng::Stream;
use std::collections::BTreeMap;

/// `sizeof(struct sockaddr_un)`: the family (2 bytes) and `sun_path[108]`.
pub const SOCKADDR_UN_LEN: usize = 110;
/// `offsetof(struct sockaddr_un, sun_path)`.
pub const SUN_PATH_OFFSET: usize = 2;

/// The Unix-domain state of one host (one network namespace plus one filesystem).
#[derive(Debug)]
pub struct HostUnix {
    /// The filesystem holding socket files.
    pub vfs: Vfs,
    /// Abstract names, by socket type and name bytes (without the leading NUL).
    pub abstract_names: BTreeMap<(UnixType, Vec<u8>), UnixId>,
    /// Users declared on the host: name → (uid, gid).
    pub users: BTreeMap<String, (u32, u32)>,
    /// Draws for autobind's starting name (`get_random_u32()` in `unix_autobind`).
    pub autobind_rng: Stream,
}

impl HostUnix {
    /// A fresh namespace whose autobind names come from `rng`.
    pub fn new(rng: Stream) -> HostUnix {
        HostUnix {
            vfs: Vfs::default(),
            abstract_names: BTreeMap::new(),
            users: BTreeMap::new(),
            autobind_rng: rng,
        }
    }
}

/// A checked address to bind, connect or send to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A filesystem path (cut at its first NUL, as `unix_mkname_bsd`'s `strlen` does).
    Path(String),
    /// An abstract name, without the leading NUL.
    Abstract(Vec<u8>),
}

/// `unix_validate_addr()`: a `sockaddr_un` of more than the family and at most
/// `sizeof(struct sockaddr_un)` bytes, with family `AF_UNIX`; everything else is `EINVAL`.
///
/// socksim passes a path with `SUN_LEN` (family plus the path, no NUL), so a 108-byte path
/// fits (the kernel adds the NUL in its larger copy) and 109 bytes do not; an abstract name
/// takes its leading NUL and its bytes, so 107 bytes fit. A path that starts with NUL is an
/// abstract name, as in C.
pub(crate) fn validate(addr: &SockAddr) -> Result<Target, Errno> {
    let (len, target) = match addr {
        SockAddr::Unix(UnixAddr::Path(p)) if p.starts_with('\0') => {
            (SUN_PATH_OFFSET + p.len(), Target::Abstract(p.as_bytes()[1..].to_vec()))
        }
        SockAddr::Unix(UnixAddr::Path(p)) => {
            let path = p.split('\0').next().unwrap_or_default().to_string();
            (SUN_PATH_OFFSET + p.len(), Target::Path(path))
        }
        SockAddr::Unix(UnixAddr::Abstract(name)) => (SUN_PATH_OFFSET + 1 + name.len(), Target::Abstract(name.clone())),
        // Only the family (autobind's address), or another family's sockaddr.
        SockAddr::Unix(UnixAddr::Unnamed) | SockAddr::Inet(_) | SockAddr::Unspec => return Err(Errno::EINVAL),
    };
    if len <= SUN_PATH_OFFSET || len > SOCKADDR_UN_LEN {
        return Err(Errno::EINVAL);
    }
    Ok(target)
}

/// How many autobind names there are: five hex digits (`%05x` of a 20-bit counter).
pub const AUTOBIND_NAMES: u32 = 1 << 20;

impl World {
    /// `unix_find_other()`: the socket `target` names, for `connect()` and `sendto()` from a
    /// socket of type `ty`.
    ///
    /// A path (`unix_find_bsd`): the walk's `ENOENT`/`ENOTDIR`/`EACCES`, then write permission
    /// on the socket file (`EACCES`), then `ECONNREFUSED` for something that is not a socket
    /// or a socket file no open socket is bound to, then `EPROTOTYPE` for another type.
    /// An abstract name (`unix_find_abstract`): only this type's names are searched, so a name
    /// held by another type alone is `ECONNREFUSED`.
    pub(crate) fn unix_find_other(
        &self,
        host: crate::HostId,
        cred: &Cred,
        target: &Target,
        ty: UnixType,
    ) -> Result<UnixId, Errno> {
        let ns = &self.hosts[host.0 as usize].unix;
        match target {
            Target::Path(path) => {
                let id = ns.vfs.lookup(path, cred)?;
                let inode = ns.vfs.inode(id);
                if !inode.permits(cred, MAY_WRITE) {
                    return Err(Errno::EACCES);
                }
                let InodeKind::Socket { bound: Some(other) } = inode.kind else {
                    return Err(Errno::ECONNREFUSED);
                };
                if self.unix.get(other).ty != ty {
                    return Err(Errno::EPROTOTYPE);
                }
                Ok(other)
            }
            Target::Abstract(name) => ns
                .abstract_names
                .get(&(ty, name.clone()))
                .copied()
                .ok_or(Errno::ECONNREFUSED),
        }
    }

    /// `unix_bind()`: `AF_UNIX` alone autobinds; otherwise the address is checked, then a
    /// path gets its socket file (`unix_bind_bsd`: the file is made first, so an existing
    /// path is `EADDRINUSE` even on a bound socket, and a bound socket then fails `EINVAL`
    /// and the new file is removed) or an abstract name is taken (`unix_bind_abstract`:
    /// `EINVAL` if bound, `EADDRINUSE` if taken for this type).
    pub(crate) fn unix_bind(&mut self, sock: UnixId, cred: &Cred, addr: &SockAddr) -> Result<(), Errno> {
        if matches!(addr, SockAddr::Unix(UnixAddr::Unnamed)) {
            return self.unix_autobind(sock);
        }
        let target = validate(addr)?;
        let s = self.unix.get(sock);
        let (host, ty, bound) = (s.host, s.ty, s.name.is_some());
        let ns = &mut self.hosts[host.0 as usize].unix;
        match target {
            Target::Path(path) => {
                let inode = ns.vfs.mknod_socket(&path, cred).map_err(|e| match e {
                    Errno::EEXIST => Errno::EADDRINUSE,
                    e => e,
                })?;
                if bound {
                    let root = Cred::ROOT;
                    ns.vfs.unlink(&path, &root).expect("the file just made");
                    return Err(Errno::EINVAL);
                }
                ns.vfs.inode_mut(inode).kind = InodeKind::Socket { bound: Some(sock) };
                let s = self.unix.get_mut(sock);
                s.name = Some(UnixName::Path { path, inode });
                s.hashed = true;
            }
            Target::Abstract(name) => {
                if bound {
                    return Err(Errno::EINVAL);
                }
                let key = (ty, name.clone());
                if ns.abstract_names.contains_key(&key) {
                    return Err(Errno::EADDRINUSE);
                }
                ns.abstract_names.insert(key, sock);
                let s = self.unix.get_mut(sock);
                s.name = Some(UnixName::Abstract(name));
                s.hashed = true;
            }
        }
        Ok(())
    }

    /// `unix_autobind()`: an abstract name of five hex digits. The counter starts at a random
    /// 20-bit value (`get_random_u32() & 0xFFFFF`), tries the next name, and moves on while
    /// this type's name is taken; after all 2^20 names, `ENOSPC`. A bound socket keeps its name
    /// (and the call succeeds).
    pub(crate) fn unix_autobind(&mut self, sock: UnixId) -> Result<(), Errno> {
        let s = self.unix.get(sock);
        if s.name.is_some() {
            return Ok(());
        }
        let (host, ty) = (s.host, s.ty);
        let ns = &mut self.hosts[host.0 as usize].unix;
        let mut ordernum = ns.autobind_rng.next_u32();
        let lastnum = ordernum & (AUTOBIND_NAMES - 1);
        let name = loop {
            ordernum = (ordernum.wrapping_add(1)) & (AUTOBIND_NAMES - 1);
            let name = format!("{ordernum:05x}").into_bytes();
            if !ns.abstract_names.contains_key(&(ty, name.clone())) {
                break name;
            }
            if ordernum == lastnum {
                return Err(Errno::ENOSPC);
            }
        };
        ns.abstract_names.insert((ty, name.clone()), sock);
        let s = self.unix.get_mut(sock);
        s.name = Some(UnixName::Abstract(name));
        s.hashed = true;
        Ok(())
    }

    /// Takes `sock`'s name out of its host's tables (`unix_remove_socket`,
    /// `unix_remove_bsd_socket`): the abstract name is free again, the socket file is stale.
    /// The socket keeps its address (peers still report it).
    pub(crate) fn unix_unhash(&mut self, sock: UnixId) {
        let s = self.unix.get_mut(sock);
        if !s.hashed {
            return;
        }
        s.hashed = false;
        let (host, ty) = (s.host, s.ty);
        let ns = &mut self.hosts[host.0 as usize].unix;
        match &self.unix.get(sock).name {
            Some(UnixName::Path { inode, .. }) => {
                if let InodeKind::Socket { bound } = &mut ns.vfs.inode_mut(*inode).kind
                    && *bound == Some(sock)
                {
                    *bound = None;
                }
            }
            Some(UnixName::Abstract(name)) => {
                let key = (ty, name.clone());
                if ns.abstract_names.get(&key) == Some(&sock) {
                    ns.abstract_names.remove(&key);
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autobind_tries_every_name_then_gives_up() {
        let mut w = World::new(3);
        let h = w.add_host("h").unwrap();
        let pid = w.spawn(h, "p", sim_core::Instant::ZERO);
        let sock = w.unix_new_socket(pid, UnixType::Stream, false);
        // Take every name but one, for this type only.
        let ns = &mut w.hosts[h.0 as usize].unix;
        for n in 0..AUTOBIND_NAMES - 1 {
            ns.abstract_names
                .insert((UnixType::Stream, format!("{n:05x}").into_bytes()), UnixId(u32::MAX));
        }
        assert_eq!(w.unix_autobind(sock), Ok(()));
        assert_eq!(
            w.unix.get(sock).addr(),
            crate::syscall::UnixAddr::Abstract(b"fffff".to_vec())
        );
        let other = w.unix_new_socket(pid, UnixType::Stream, false);
        assert_eq!(w.unix_autobind(other), Err(Errno::ENOSPC));
        // Another type has its own names.
        let dgram = w.unix_new_socket(pid, UnixType::Dgram, false);
        assert_eq!(w.unix_autobind(dgram), Ok(()));
    }

    #[test]
    fn address_lengths_as_linux_checks_them() {
        let path = |n: usize| SockAddr::Unix(UnixAddr::Path("/".repeat(n)));
        assert!(validate(&path(107)).is_ok());
        assert!(validate(&path(108)).is_ok());
        assert_eq!(validate(&path(109)), Err(Errno::EINVAL));
        let abs = |n: usize| SockAddr::Unix(UnixAddr::Abstract(vec![b'a'; n]));
        assert!(validate(&abs(0)).is_ok());
        assert!(validate(&abs(107)).is_ok());
        assert_eq!(validate(&abs(108)), Err(Errno::EINVAL));
        assert_eq!(validate(&SockAddr::Unix(UnixAddr::Unnamed)), Err(Errno::EINVAL));
        assert_eq!(validate(&SockAddr::Unspec), Err(Errno::EINVAL));
        assert_eq!(
            validate(&SockAddr::Unix(UnixAddr::Path("/a\0b".into()))),
            Ok(Target::Path("/a".into()))
        );
        assert_eq!(
            validate(&SockAddr::Unix(UnixAddr::Path("\0ab".into()))),
            Ok(Target::Abstract(b"ab".to_vec()))
        );
    }
}
