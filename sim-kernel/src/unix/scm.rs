//! Messages in Unix-domain receive queues, and what travels with them: descriptors
//! (`SCM_RIGHTS`) and credentials (`SCM_CREDENTIALS`) (`net/core/scm.c`,
//! `include/net/scm.h`, `unix_scm_to_skb`, `scm_recv_unix`).
//!
//! A queued message is Linux's `sk_buff` with its `unix_skb_parms`: the bytes, how many a
//! stream reader already took, the sending socket (which is charged the buffer's true size
//! until the message is read or dropped, and whose address a datagram reader sees), the open
//! files in flight and the sender's credentials.

use super::UnixId;
use crate::errno::Errno;
use crate::process::{Desc, Pid};
use crate::syscall::{Cmsg, Fd, MSG_CTRUNC, Ucred};
use crate::world::World;
use std::rc::Rc;

/// `SCM_MAX_FD`: at most this many descriptors in one `SCM_RIGHTS` message
/// (`include/net/scm.h`; more is `EINVAL` in `scm_fp_copy`).
pub const SCM_MAX_FD: usize = 253;

/// `sizeof(struct cmsghdr)` on 64-bit Linux.
pub const CMSGHDR_LEN: usize = 16;

/// `CMSG_SPACE(len)`: a control message with `len` data bytes, padded to 8.
pub const fn cmsg_space(len: usize) -> usize {
    CMSGHDR_LEN + len.div_ceil(8) * 8
}

/// `CMSG_LEN(len)`.
pub const fn cmsg_len(len: usize) -> usize {
    CMSGHDR_LEN + len
}

/// `sizeof(struct ucred)`.
pub const UCRED_LEN: usize = 12;

/// The control buffer `recvmsg` offers when a scenario gives none: room for `SCM_MAX_FD`
/// descriptors and credentials.
pub const DEFAULT_CONTROLLEN: usize = cmsg_space(UCRED_LEN) + cmsg_space(4 * SCM_MAX_FD);

/// One message in a receive queue (an `sk_buff` with `UNIXCB`).
#[derive(Clone, Debug)]
pub struct Message {
    /// The bytes.
    pub data: Rc<[u8]>,
    /// How many of them a stream reader has taken (`UNIXCB(skb).consumed`).
    pub consumed: usize,
    /// The socket that sent it (`skb->sk`): charged `truesize` until the message goes, and
    /// its address is what a datagram reader sees as the sender.
    pub sender: UnixId,
    /// What the buffer costs the sender's send buffer (`skb->truesize`).
    pub truesize: u64,
    /// Open files in flight (`UNIXCB(skb).fp`).
    pub rights: Vec<Desc>,
    /// The sender's credentials, when they travel (`UNIXCB(skb).pid/uid/gid`).
    pub creds: Option<Ucred>,
}

impl Message {
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.consumed
    }
}

/// The size of the kmalloc bucket that holds `size` bytes (powers of two from 32 bytes up to
/// a page and beyond; `kmalloc_size_roundup`).
fn kmalloc_bucket(size: u64) -> u64 {
    size.max(32).next_power_of_two()
}

/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64.
const SHINFO: u64 = 320;
/// `SKB_DATA_ALIGN(sizeof(struct sk_buff))`.
const SKBUFF: u64 = 256;
/// `PAGE_SIZE`.
const PAGE: u64 = 4096;
/// `SKB_MAX_HEAD(0)`: the most linear bytes a page-sized head holds (`SKB_MAX_ORDER(0, 0)`,
/// that is `SKB_WITH_OVERHEAD(PAGE_SIZE)`). Measured on 6.18: a non-blocking 1 MiB send on a
/// stream socketpair queues six buffers of 36544 bytes (this plus `UNIX_SKB_FRAGS_SZ`).
const SKB_MAX_HEAD: u64 = PAGE - SHINFO;
/// `SKB_MAX_ALLOC`: `SKB_MAX_ORDER(0, 2)`.
const SKB_MAX_ALLOC: u64 = (PAGE << 2) - SHINFO;
/// `UNIX_SKB_FRAGS_SZ`: the paged part of one stream buffer (`PAGE_SIZE << get_order(32768)`).
const UNIX_SKB_FRAGS_SZ: u64 = 32768;
/// `MAX_SKB_FRAGS`.
const MAX_SKB_FRAGS: u64 = 17;

/// `skb->truesize` of a buffer with a linear part of `head` bytes and `paged` bytes in page
/// fragments (`__alloc_skb`: `SKB_TRUESIZE(kmalloc size)`; `alloc_skb_with_frags` charges
/// whole pages).
fn truesize(head: u64, paged: u64) -> u64 {
    let linear = kmalloc_bucket(head.div_ceil(64) * 64 + SHINFO) - SHINFO;
    linear + SHINFO + SKBUFF + paged.div_ceil(PAGE) * PAGE
}

/// The true size of a datagram or seqpacket buffer of `len` bytes (`unix_dgram_sendmsg`:
/// linear up to `SKB_MAX_ALLOC`, the rest in page-aligned fragments). Measured on 6.18
/// with `SIOCOUTQ`: 768 bytes for 1 byte, 1280 for 193, 16640 for 10000, 37120 for 32768.
pub fn dgram_truesize(len: u64) -> u64 {
    if len <= SKB_MAX_ALLOC {
        return truesize(len, 0);
    }
    let paged = (len - SKB_MAX_ALLOC).min(MAX_SKB_FRAGS * PAGE).div_ceil(PAGE) * PAGE;
    truesize(len - paged, paged)
}

/// How `unix_stream_sendmsg` cuts `len` bytes into buffers, with each one's size and true
/// size: at most `sndbuf / 2 - 64` and `SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ` bytes each, the
/// part beyond `SKB_MAX_HEAD(0)` in page-aligned fragments. Measured on 6.18: 768 bytes for
/// a 1-byte send, 4864 for 4000, 67072 for 65536.
pub fn stream_chunks(len: u64, sndbuf: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut sent = 0;
    while sent < len {
        let size = (len - sent).min(sndbuf / 2 - 64).min(SKB_MAX_HEAD + UNIX_SKB_FRAGS_SZ);
        let data_len = size.saturating_sub(SKB_MAX_HEAD).div_ceil(PAGE) * PAGE;
        let data_len = data_len.min(size);
        out.push((size, truesize(size - data_len, data_len)));
        sent += size;
    }
    out
}

/// Control data checked and taken from a `sendmsg` call (`__scm_send`, `scm_fp_copy`).
#[derive(Debug, Default)]
pub(crate) struct ScmSend {
    /// The files to pass, each already referenced once more.
    pub rights: Vec<Desc>,
    /// Credentials the sender asked to send.
    pub creds: Option<Ucred>,
}

impl World {
    /// `__scm_send()`: every descriptor in an `SCM_RIGHTS` message must be open (`EBADF`),
    /// and there may be at most [`SCM_MAX_FD`] of them (`EINVAL`). The files are referenced
    /// now (`get_file`) and held until the message is read or dropped. `SCM_CREDENTIALS`
    /// carries the sender's own pid, uid and gid.
    pub(crate) fn scm_send(&mut self, pid: Pid, control: &[Cmsg]) -> Result<ScmSend, Errno> {
        let mut fds: Vec<Fd> = Vec::new();
        let mut creds = None;
        for c in control {
            match c {
                Cmsg::Rights(list) => {
                    if list.is_empty() || fds.len() + list.len() > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    fds.extend(list);
                }
                Cmsg::Credentials => {
                    let p = self.process(pid);
                    creds = Some(Ucred {
                        pid: pid.0,
                        uid: p.cred.uid,
                        gid: p.cred.gid,
                    });
                }
            }
        }
        let table = &self.process(pid).fds;
        let rights: Vec<Desc> = fds
            .iter()
            .map(|&fd| table.get(fd).ok_or(Errno::EBADF))
            .collect::<Result<_, _>>()?;
        for &d in &rights {
            self.desc_ref(d);
        }
        Ok(ScmSend { rights, creds })
    }

    /// Drops files that were to be sent but never were (`scm_destroy`).
    pub(crate) fn scm_destroy(&mut self, scm: ScmSend) {
        for d in scm.rights {
            self.release_desc(d);
        }
    }

    /// `scm_detach_fds()`: installs received files in `pid`'s table, as many as the control
    /// buffer has room for (`(controllen - sizeof(cmsghdr)) / sizeof(int)`) and the
    /// descriptor limit allows (`get_unused_fd_flags`: `EMFILE` stops the loop); the rest are
    /// dropped and `MSG_CTRUNC` is set. Returns the new descriptors and the flags.
    pub(crate) fn scm_detach_fds(&mut self, pid: Pid, rights: Vec<Desc>, room: usize) -> (Vec<Fd>, i32) {
        let fdmax = if room > CMSGHDR_LEN {
            (room - CMSGHDR_LEN) / 4
        } else {
            0
        };
        let count = rights.len();
        let mut installed = Vec::new();
        let mut rest = rights.into_iter();
        for desc in rest.by_ref().take(fdmax) {
            if self.fd_available(pid).is_err() {
                self.release_desc(desc);
                break;
            }
            installed.push(self.process_mut(pid).fds.install(desc));
        }
        for desc in rest {
            self.release_desc(desc);
        }
        let flags = if installed.len() < count { MSG_CTRUNC } else { 0 };
        (installed, flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn true_sizes_match_measurements_on_linux_6_18() {
        // SIOCOUTQ after one send on a socketpair whose other end reads nothing.
        for (len, dgram, stream) in [
            (1, 768, 768),
            (192, 768, 768),
            (193, 1280, 1280),
            (1000, 2304, 2304),
            (2000, 4352, 4352),
            (3000, 4352, 4352),
            (4000, 8448, 4864),
            (8000, 16640, 8960),
            (10000, 16640, 12544),
            (32768, 37120, 33536),
            (65536, 69888, 67072),
            (100000, 102656, 103168),
        ] {
            assert_eq!(dgram_truesize(len), dgram, "dgram {len}");
            let chunks = stream_chunks(len, 212_992);
            assert_eq!(chunks.iter().map(|c| c.0).sum::<u64>(), len);
            assert_eq!(chunks.iter().map(|c| c.1).sum::<u64>(), stream, "stream {len}");
        }
        assert_eq!(dgram_truesize(0), 768);
        assert!(stream_chunks(0, 212_992).is_empty());
        // The largest stream buffer: 36544 bytes, true size 37120.
        assert_eq!(stream_chunks(1 << 20, 212_992)[0], (36544, 37120));
    }

    #[test]
    fn control_sizes() {
        assert_eq!(cmsg_space(4), 24);
        assert_eq!(cmsg_len(8), 24);
        assert_eq!(cmsg_space(UCRED_LEN), 32);
    }
}
