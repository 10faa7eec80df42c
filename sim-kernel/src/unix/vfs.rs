//! A host's filesystem: just enough of a VFS for Unix-domain socket files — directories,
//! socket inodes and (for tests) regular files, with owners, permission bits and Linux's
//! path walk (`fs/namei.c`).
//!
//! Every host starts with `/` (0755), `/run` (0755) and `/tmp` (1777, sticky), all owned by
//! root. Paths are resolved from `/` (relative paths too: every process's working directory is
//! `/`). There are no symbolic links, no hard links, no supplementary groups and no ACLs.
//! Unlinked inodes are kept (a bound socket still refers to its file; the rest is a few bytes).

use crate::errno::Errno;
use crate::process::{Cred, Pid};
use crate::syscall::{SysReturn, Syscall};
use crate::unix::UnixId;
use crate::world::World;
use std::collections::BTreeMap;

/// Index of an inode in its host's filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InodeId(pub u32);

/// `MAY_EXEC`: search a directory (`include/linux/fs.h`).
pub const MAY_EXEC: u32 = 1;
/// `MAY_WRITE`.
pub const MAY_WRITE: u32 = 2;
/// `MAY_READ`.
pub const MAY_READ: u32 = 4;

/// `S_ISVTX`: the sticky bit (only owners may unlink from such a directory).
pub const S_ISVTX: u32 = 0o1000;
/// `S_IFMT`: the file type bits of a mode (`include/uapi/linux/stat.h`).
pub const S_IFMT: u32 = 0o170000;
/// `S_IFSOCK`: a socket.
pub const S_IFSOCK: u32 = 0o140000;
/// `S_IFREG`: a regular file.
pub const S_IFREG: u32 = 0o100000;
/// `S_IFBLK`: a block device.
pub const S_IFBLK: u32 = 0o060000;
/// `S_IFDIR`: a directory.
pub const S_IFDIR: u32 = 0o040000;
/// `S_IFCHR`: a character device.
pub const S_IFCHR: u32 = 0o020000;
/// `S_IFIFO`: a FIFO.
pub const S_IFIFO: u32 = 0o010000;

/// What an inode is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InodeKind {
    /// A directory: its entries by name.
    Dir(BTreeMap<String, InodeId>),
    /// A socket file (`S_IFSOCK`), with the live socket bound to it, if any
    /// (`unix_find_socket_byinode` finds that socket; a closed socket leaves a stale file).
    Socket {
        /// The socket whose `bind()` created this file, while it is open.
        bound: Option<UnixId>,
    },
    /// A regular file.
    File,
}

/// One inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inode {
    /// What it is.
    pub kind: InodeKind,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits (`0o7777`: rwx for owner, group, others, and the sticky bit).
    pub mode: u32,
    /// Whether a directory entry names it (unlinked files live on while a socket uses them).
    pub linked: bool,
}

impl Inode {
    /// `acl_permission_check()` / `generic_permission()`: the owner's bits for the owner, the
    /// group's for a member, the others' otherwise; root has `CAP_DAC_OVERRIDE` and passes.
    pub fn permits(&self, cred: &Cred, want: u32) -> bool {
        if cred.uid == 0 {
            return true;
        }
        let bits = if cred.uid == self.uid {
            self.mode >> 6
        } else if cred.gid == self.gid {
            self.mode >> 3
        } else {
            self.mode
        } & 7;
        bits & want == want
    }

    fn is_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Dir(_))
    }
}

/// A path split the way the walk needs it: the directory holding the last component, the
/// last component (`None` for `/`), and whether a slash followed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parent {
    /// The directory the last component lives in.
    pub dir: InodeId,
    /// The last component.
    pub last: Option<String>,
    /// `foo/`: the path ended in a slash.
    pub trailing_slash: bool,
}

/// One host's filesystem.
#[derive(Clone, Debug)]
pub struct Vfs {
    inodes: Vec<Inode>,
}

/// The root directory.
pub const ROOT: InodeId = InodeId(0);

impl Default for Vfs {
    fn default() -> Self {
        let dir = |mode| Inode {
            kind: InodeKind::Dir(BTreeMap::new()),
            uid: 0,
            gid: 0,
            mode,
            linked: true,
        };
        let mut vfs = Vfs {
            inodes: vec![dir(0o755)],
        };
        for (name, mode) in [("run", 0o755), ("tmp", 0o1777)] {
            let id = vfs.push(dir(mode));
            vfs.link(ROOT, name, id);
        }
        vfs
    }
}

impl Vfs {
    /// The inode `id`.
    pub fn inode(&self, id: InodeId) -> &Inode {
        &self.inodes[id.0 as usize]
    }

    /// The inode `id`, to change it.
    pub fn inode_mut(&mut self, id: InodeId) -> &mut Inode {
        &mut self.inodes[id.0 as usize]
    }

    /// Every inode with its id.
    pub fn inodes(&self) -> impl Iterator<Item = (InodeId, &Inode)> {
        self.inodes.iter().enumerate().map(|(i, n)| (InodeId(i as u32), n))
    }

    fn push(&mut self, inode: Inode) -> InodeId {
        self.inodes.push(inode);
        InodeId(self.inodes.len() as u32 - 1)
    }

    fn link(&mut self, dir: InodeId, name: &str, child: InodeId) {
        if let InodeKind::Dir(entries) = &mut self.inode_mut(dir).kind {
            entries.insert(name.to_string(), child);
        }
        self.inode_mut(child).linked = true;
    }

    fn child(&self, dir: InodeId, name: &str) -> Option<InodeId> {
        match &self.inode(dir).kind {
            InodeKind::Dir(entries) => entries.get(name).copied(),
            _ => None,
        }
    }

    /// `link_path_walk()`: follows every component but the last, checking search permission
    /// on each directory passed through (`may_lookup`: `EACCES`), that each exists
    /// (`ENOENT`) and is a directory (`ENOTDIR`). `.` and `..` work; `..` of `/` is `/`.
    /// An empty path is `ENOENT` (`getname()`).
    pub fn walk_parent(&self, path: &str, cred: &Cred) -> Result<Parent, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let trailing_slash = path.ends_with('/');
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut stack = vec![ROOT];
        let Some((last, init)) = parts.split_last() else {
            return Ok(Parent {
                dir: ROOT,
                last: None,
                trailing_slash,
            });
        };
        for part in init {
            let dir = *stack.last().expect("the root is never popped");
            if !self.inode(dir).permits(cred, MAY_EXEC) {
                return Err(Errno::EACCES);
            }
            match *part {
                "." => {}
                ".." => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                }
                name => {
                    let child = self.child(dir, name).ok_or(Errno::ENOENT)?;
                    if !self.inode(child).is_dir() {
                        return Err(Errno::ENOTDIR);
                    }
                    stack.push(child);
                }
            }
        }
        let dir = *stack.last().expect("the root is never popped");
        // `foo/.` and `foo/..` name directories: resolve them here, with nothing left over.
        match *last {
            "." | ".." => {
                if !self.inode(dir).permits(cred, MAY_EXEC) {
                    return Err(Errno::EACCES);
                }
                if *last == ".." && stack.len() > 1 {
                    stack.pop();
                }
                Ok(Parent {
                    dir: *stack.last().expect("the root is never popped"),
                    last: None,
                    trailing_slash: true,
                })
            }
            name => Ok(Parent {
                dir,
                last: Some(name.to_string()),
                trailing_slash,
            }),
        }
    }

    /// `kern_path(LOOKUP_FOLLOW)`: the inode `path` names; search permission on its directory
    /// (`EACCES`), `ENOENT` if missing, `ENOTDIR` for `file/`.
    pub fn lookup(&self, path: &str, cred: &Cred) -> Result<InodeId, Errno> {
        let p = self.walk_parent(path, cred)?;
        let Some(last) = p.last else { return Ok(p.dir) };
        if !self.inode(p.dir).permits(cred, MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        let child = self.child(p.dir, &last).ok_or(Errno::ENOENT)?;
        if p.trailing_slash && !self.inode(child).is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(child)
    }

    /// `filename_create()` then `may_create()`: where a new entry for `path` goes. Search
    /// permission on the parent (`EACCES`), `EEXIST` if the name is taken, `ENOENT` for
    /// `new/` when a directory is not being made, then write permission on the parent
    /// (`EACCES`).
    fn create_at(&self, path: &str, cred: &Cred, dir_ok: bool) -> Result<(InodeId, String), Errno> {
        let p = self.walk_parent(path, cred)?;
        let Some(last) = p.last else {
            return Err(Errno::EEXIST);
        };
        if !self.inode(p.dir).permits(cred, MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        if self.child(p.dir, &last).is_some() {
            return Err(Errno::EEXIST);
        }
        if p.trailing_slash && !dir_ok {
            return Err(Errno::ENOENT);
        }
        if !self.inode(p.dir).permits(cred, MAY_WRITE | MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        Ok((p.dir, last))
    }

    /// Creates a socket file for `bind()` (`unix_bind_bsd`: `vfs_mknod` with mode
    /// `S_IFSOCK | (0777 & ~umask)`), owned by the caller; no socket is bound to it yet.
    pub fn mknod_socket(&mut self, path: &str, cred: &Cred) -> Result<InodeId, Errno> {
        let (dir, name) = self.create_at(path, cred, false)?;
        let id = self.push(Inode {
            kind: InodeKind::Socket { bound: None },
            uid: cred.uid,
            gid: cred.gid,
            mode: 0o777 & !cred.umask,
            linked: true,
        });
        self.link(dir, &name, id);
        Ok(id)
    }

    /// Creates a regular file (setup for tests and scenarios; no system call creates one).
    pub fn create_file(&mut self, path: &str, cred: &Cred, mode: u32) -> Result<InodeId, Errno> {
        let (dir, name) = self.create_at(path, cred, false)?;
        let id = self.push(Inode {
            kind: InodeKind::File,
            uid: cred.uid,
            gid: cred.gid,
            mode: mode & 0o7777 & !cred.umask,
            linked: true,
        });
        self.link(dir, &name, id);
        Ok(id)
    }

    /// `mkdir()` (`do_mkdirat`, `vfs_mkdir`): mode `mode & (0777 | S_ISVTX) & ~umask`.
    pub fn mkdir(&mut self, path: &str, mode: u32, cred: &Cred) -> Result<(), Errno> {
        let (dir, name) = self.create_at(path, cred, true)?;
        let id = self.push(Inode {
            kind: InodeKind::Dir(BTreeMap::new()),
            uid: cred.uid,
            gid: cred.gid,
            mode: mode & (0o777 | S_ISVTX) & !cred.umask,
            linked: true,
        });
        self.link(dir, &name, id);
        Ok(())
    }

    /// `unlink()` (`do_unlinkat`, `may_delete`): `ENOENT` if missing; `file/` is `ENOTDIR`
    /// and `dir/` `EISDIR`; write and search permission on the directory (`EACCES`); in a
    /// sticky directory only the file's or the directory's owner (`EPERM`); a directory is
    /// `EISDIR`. Returns the unlinked inode.
    pub fn unlink(&mut self, path: &str, cred: &Cred) -> Result<InodeId, Errno> {
        let p = self.walk_parent(path, cred)?;
        let Some(last) = p.last else {
            return Err(Errno::EISDIR);
        };
        if !self.inode(p.dir).permits(cred, MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        let child = self.child(p.dir, &last).ok_or(Errno::ENOENT)?;
        if p.trailing_slash {
            return Err(if self.inode(child).is_dir() {
                Errno::EISDIR
            } else {
                Errno::ENOTDIR
            });
        }
        let dir = self.inode(p.dir);
        if !dir.permits(cred, MAY_WRITE | MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        // check_sticky(): the owner of the file or of the directory, or CAP_FOWNER.
        let victim = self.inode(child);
        if dir.mode & S_ISVTX != 0 && cred.uid != 0 && cred.uid != victim.uid && cred.uid != dir.uid {
            return Err(Errno::EPERM);
        }
        if victim.is_dir() {
            return Err(Errno::EISDIR);
        }
        if let InodeKind::Dir(entries) = &mut self.inode_mut(p.dir).kind {
            entries.remove(&last);
        }
        self.inode_mut(child).linked = false;
        Ok(child)
    }

    /// `chown()` (`chown_common`, `setattr_prepare`): `u32::MAX` (-1) keeps an id. Changing
    /// the owner needs `CAP_CHOWN` (root) unless it stays the same and the caller owns the
    /// file (`chown_ok`); changing the group needs root, or the owner giving it a group they
    /// are in (`chgrp_ok`; here: their own group, there are no supplementary groups).
    /// Otherwise `EPERM`.
    pub fn chown(&mut self, path: &str, uid: u32, gid: u32, cred: &Cred) -> Result<(), Errno> {
        let id = self.lookup(path, cred)?;
        let inode = self.inode_mut(id);
        let root = cred.uid == 0;
        let owner = cred.uid == inode.uid;
        if uid != u32::MAX && !(root || (owner && uid == inode.uid)) {
            return Err(Errno::EPERM);
        }
        if gid != u32::MAX && !(root || (owner && (gid == inode.gid || gid == cred.gid))) {
            return Err(Errno::EPERM);
        }
        if uid != u32::MAX {
            inode.uid = uid;
        }
        if gid != u32::MAX {
            inode.gid = gid;
        }
        Ok(())
    }

    /// `mknod()` (`do_mknodat`, `may_mknod`, `vfs_mknod`): a regular file for type 0 or
    /// `S_IFREG`; a FIFO or device node (root only for devices: `CAP_MKNOD`, else `EPERM`)
    /// is kept as a plain file too, since nothing here opens it; `S_IFSOCK` makes a socket
    /// file no socket is bound to; `S_IFDIR` is `EPERM`, any other type `EINVAL`. The
    /// permission bits are `mode & ~umask`.
    pub fn mknod(&mut self, path: &str, mode: u32, cred: &Cred) -> Result<(), Errno> {
        let kind = match mode & S_IFMT {
            0 | S_IFREG | S_IFIFO => InodeKind::File,
            S_IFCHR | S_IFBLK if cred.uid == 0 => InodeKind::File,
            S_IFCHR | S_IFBLK | S_IFDIR => return Err(Errno::EPERM),
            S_IFSOCK => InodeKind::Socket { bound: None },
            _ => return Err(Errno::EINVAL),
        };
        let (dir, name) = self.create_at(path, cred, false)?;
        let id = self.push(Inode {
            kind,
            uid: cred.uid,
            gid: cred.gid,
            mode: mode & 0o7777 & !cred.umask,
            linked: true,
        });
        self.link(dir, &name, id);
        Ok(())
    }

    /// `chmod()` (`chmod_common`, `inode_change_ok`): only the owner or root (`EPERM`).
    pub fn chmod(&mut self, path: &str, mode: u32, cred: &Cred) -> Result<(), Errno> {
        let id = self.lookup(path, cred)?;
        let inode = self.inode_mut(id);
        if cred.uid != 0 && cred.uid != inode.uid {
            return Err(Errno::EPERM);
        }
        inode.mode = mode & 0o7777;
        Ok(())
    }
}

impl World {
    /// `mkdir`, `unlink`, `chmod`, `chown` and `mknod` on the caller's host, and `umask`.
    pub(crate) fn sys_path_call(&mut self, pid: Pid, call: &Syscall) -> Result<SysReturn, Errno> {
        let p = self.process(pid);
        let (host, cred) = (p.host, p.cred);
        // umask(2) (`sys_umask`): `mask & 0777` becomes the mask; the old one is returned.
        if let Syscall::Umask { mask } = call {
            self.process_mut(pid).cred.umask = mask & 0o777;
            return Ok(SysReturn::Mode { mode: cred.umask });
        }
        let vfs = &mut self.hosts[host.0 as usize].unix.vfs;
        match call {
            Syscall::Mkdir { path, mode } => vfs.mkdir(path, *mode, &cred)?,
            Syscall::Chmod { path, mode } => vfs.chmod(path, *mode, &cred)?,
            Syscall::Unlink { path } => {
                vfs.unlink(path, &cred)?;
            }
            Syscall::Chown { path, uid, gid } => vfs.chown(path, *uid, *gid, &cred)?,
            Syscall::Mknod { path, mode } => vfs.mknod(path, *mode, &cred)?,
            _ => unreachable!("only path calls come here"),
        }
        Ok(SysReturn::Value { value: 0 })
    }

    /// Creates a regular file at `path` on `host`, owned by `uid`/`gid` with `mode` (setup: a
    /// file that is not a socket, for connect() to refuse).
    pub fn create_file(&mut self, host: crate::HostId, path: &str, uid: u32, gid: u32, mode: u32) -> Result<(), Errno> {
        let cred = Cred { uid, gid, umask: 0 };
        self.hosts[host.0 as usize]
            .unix
            .vfs
            .create_file(path, &cred, mode)
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Cred = Cred {
        uid: 1000,
        gid: 1000,
        umask: 0o022,
    };

    #[test]
    fn walk_checks_search_permission_existence_and_kind() {
        let mut v = Vfs::default();
        v.mkdir("/run/app", 0o700, &Cred::ROOT).unwrap();
        v.create_file("/run/file", &Cred::ROOT, 0o644).unwrap();
        assert_eq!(v.lookup("/run/app", &ALICE).map(|_| ()), Ok(()));
        assert_eq!(v.lookup("/run/app/x", &ALICE), Err(Errno::EACCES));
        assert_eq!(v.lookup("/run/app/x", &Cred::ROOT), Err(Errno::ENOENT));
        assert_eq!(v.lookup("/nope/x", &ALICE), Err(Errno::ENOENT));
        assert_eq!(v.lookup("/run/file/x", &ALICE), Err(Errno::ENOTDIR));
        assert_eq!(v.lookup("/run/file/", &ALICE), Err(Errno::ENOTDIR));
        assert_eq!(
            v.lookup("/run/./app/../file", &Cred::ROOT),
            v.lookup("/run/file", &Cred::ROOT)
        );
        assert_eq!(v.lookup("/../..", &ALICE), Ok(ROOT));
        assert_eq!(v.lookup("", &ALICE), Err(Errno::ENOENT));
    }

    #[test]
    fn create_order_of_checks() {
        let mut v = Vfs::default();
        // An existing name is EEXIST before the missing write permission is EACCES.
        assert_eq!(v.mkdir("/run", 0o777, &ALICE), Err(Errno::EEXIST));
        assert_eq!(v.mkdir("/run/x", 0o777, &ALICE), Err(Errno::EACCES));
        v.mkdir("/tmp/mine", 0o777, &ALICE).unwrap();
        let mine = v.lookup("/tmp/mine", &ALICE).unwrap();
        assert_eq!(v.inode(mine).mode, 0o755);
        assert_eq!(v.inode(mine).uid, 1000);
        assert_eq!(v.mknod_socket("/tmp/s/", &ALICE).map(|_| ()), Err(Errno::ENOENT));
    }

    #[test]
    fn unlink_rules() {
        let mut v = Vfs::default();
        v.create_file("/tmp/rootfile", &Cred::ROOT, 0o644).unwrap();
        assert_eq!(v.unlink("/tmp/rootfile", &ALICE).map(|_| ()), Err(Errno::EPERM));
        assert_eq!(v.unlink("/tmp", &Cred::ROOT).map(|_| ()), Err(Errno::EISDIR));
        assert_eq!(v.unlink("/tmp/none", &Cred::ROOT).map(|_| ()), Err(Errno::ENOENT));
        assert_eq!(v.unlink("/tmp/rootfile/", &Cred::ROOT).map(|_| ()), Err(Errno::ENOTDIR));
        let id = v.unlink("/tmp/rootfile", &Cred::ROOT).unwrap();
        assert!(!v.inode(id).linked);
        assert_eq!(v.chmod("/tmp", 0o777, &ALICE), Err(Errno::EPERM));
    }

    #[test]
    fn chown_rules() {
        let mut v = Vfs::default();
        v.mknod("/tmp/f", 0o644, &ALICE).unwrap();
        // The owner may keep the owner and set their own group; not give the file away.
        assert_eq!(v.chown("/tmp/f", 1000, u32::MAX, &ALICE), Ok(()));
        assert_eq!(v.chown("/tmp/f", 1001, u32::MAX, &ALICE), Err(Errno::EPERM));
        assert_eq!(v.chown("/tmp/f", u32::MAX, 0, &ALICE), Err(Errno::EPERM));
        assert_eq!(v.chown("/tmp/f", 0, 0, &Cred::ROOT), Ok(()));
        let id = v.lookup("/tmp/f", &ALICE).unwrap();
        assert_eq!((v.inode(id).uid, v.inode(id).gid), (0, 0));
        assert_eq!(v.chown("/tmp/f", u32::MAX, 1000, &ALICE), Err(Errno::EPERM));
    }

    #[test]
    fn mknod_kinds() {
        let mut v = Vfs::default();
        v.mknod("/tmp/reg", 0o666, &ALICE).unwrap();
        let id = v.lookup("/tmp/reg", &ALICE).unwrap();
        assert_eq!((v.inode(id).kind.clone(), v.inode(id).mode), (InodeKind::File, 0o644));
        v.mknod("/tmp/sock", S_IFSOCK | 0o777, &ALICE).unwrap();
        let id = v.lookup("/tmp/sock", &ALICE).unwrap();
        assert_eq!(v.inode(id).kind, InodeKind::Socket { bound: None });
        assert_eq!(v.mknod("/tmp/dir", S_IFDIR | 0o755, &ALICE), Err(Errno::EPERM));
        assert_eq!(v.mknod("/tmp/chr", S_IFCHR | 0o600, &ALICE), Err(Errno::EPERM));
        assert_eq!(v.mknod("/tmp/bad", 0o170000, &ALICE), Err(Errno::EINVAL));
        assert_eq!(v.mknod("/tmp/reg", 0o644, &ALICE), Err(Errno::EEXIST));
    }
}
