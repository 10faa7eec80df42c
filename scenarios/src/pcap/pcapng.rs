//! A pcapng writer: the blocks a capture of a simulated run needs, in the layout of the pcapng
//! specification (draft-ietf-opsawg-pcapng): a Section Header Block, Interface Description
//! Blocks, Enhanced Packet Blocks, each with options.
//!
//! Everything is little-endian, whatever the machine, so the same blocks give the same bytes
//! everywhere; readers learn the byte order from the section header's byte-order magic. Every
//! block and every option value is padded to a multiple of 4 bytes, and a block's total length
//! appears both at its start and at its end.

/// Block type of a Section Header Block.
pub const SHB: u32 = 0x0A0D_0D0A;
/// Block type of an Interface Description Block.
pub const IDB: u32 = 0x0000_0001;
/// Block type of an Enhanced Packet Block.
pub const EPB: u32 = 0x0000_0006;
/// The Section Header Block's byte-order magic.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// `opt_endofopt`.
pub const OPT_ENDOFOPT: u16 = 0;
/// `opt_comment` (any block): UTF-8 text.
pub const OPT_COMMENT: u16 = 1;
/// `shb_userappl`: the application that wrote the file.
pub const SHB_USERAPPL: u16 = 4;
/// `if_name`: the interface's name.
pub const IF_NAME: u16 = 2;
/// `if_description`: a description of the interface.
pub const IF_DESCRIPTION: u16 = 3;
/// `if_tsresol`: the timestamp resolution.
pub const IF_TSRESOL: u16 = 9;

/// `LINKTYPE_RAW`: each packet starts with its IPv4 or IPv6 header (the version nibble says
/// which); no link-layer header.
pub const LINKTYPE_RAW: u16 = 101;

/// One option: a code and its value (unpadded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    /// The option code.
    pub code: u16,
    /// The value's bytes.
    pub value: Vec<u8>,
}

impl Opt {
    /// `opt_comment`.
    pub fn comment(text: &str) -> Opt {
        Opt {
            code: OPT_COMMENT,
            value: text.as_bytes().to_vec(),
        }
    }

    /// `shb_userappl`.
    pub fn user_application(text: &str) -> Opt {
        Opt {
            code: SHB_USERAPPL,
            value: text.as_bytes().to_vec(),
        }
    }

    /// `if_name`.
    pub fn if_name(name: &str) -> Opt {
        Opt {
            code: IF_NAME,
            value: name.as_bytes().to_vec(),
        }
    }

    /// `if_description`.
    pub fn if_description(text: &str) -> Opt {
        Opt {
            code: IF_DESCRIPTION,
            value: text.as_bytes().to_vec(),
        }
    }

    /// `if_tsresol` for timestamps in units of 10^-`digits` seconds (9: nanoseconds). Without
    /// it readers assume microseconds.
    pub fn if_tsresol_decimal(digits: u8) -> Opt {
        assert!(digits < 0x80, "the high bit would mean a power of two");
        Opt {
            code: IF_TSRESOL,
            value: vec![digits],
        }
    }
}

/// Bytes of padding after `len` bytes to reach a multiple of 4.
fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// A pcapng section being written into memory: [`Writer::new`] writes the Section Header
/// Block, then interfaces and packets follow in any order (an interface before its packets).
#[derive(Debug)]
pub struct Writer {
    out: Vec<u8>,
    interfaces: u32,
}

impl Writer {
    /// A new section (version 1.0, length unspecified) with these options.
    pub fn new(options: &[Opt]) -> Writer {
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes()); // major version
        body.extend_from_slice(&0u16.to_le_bytes()); // minor version
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        let mut w = Writer {
            out: Vec::new(),
            interfaces: 0,
        };
        w.block(SHB, body, options);
        w
    }

    /// Adds an interface and returns its id (0, 1, ... in the order added). `snaplen` 0 means
    /// no limit.
    pub fn interface(&mut self, link_type: u16, snaplen: u32, options: &[Opt]) -> u32 {
        let mut body = Vec::new();
        body.extend_from_slice(&link_type.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes()); // reserved
        body.extend_from_slice(&snaplen.to_le_bytes());
        self.block(IDB, body, options);
        self.interfaces += 1;
        self.interfaces - 1
    }

    /// Adds a packet seen on `interface` at `timestamp` (in the interface's `if_tsresol`
    /// units), captured whole.
    pub fn packet(&mut self, interface: u32, timestamp: u64, data: &[u8], options: &[Opt]) {
        assert!(
            interface < self.interfaces,
            "packet on undeclared interface {interface}"
        );
        let len = u32::try_from(data.len()).expect("a packet shorter than 4 GiB");
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((timestamp >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(timestamp as u32).to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes()); // captured length
        body.extend_from_slice(&len.to_le_bytes()); // original length
        body.extend_from_slice(data);
        body.resize(body.len() + padding(data.len()), 0);
        self.block(EPB, body, options);
    }

    /// The file's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }

    /// Appends one block: type, total length, `body` (already padded), the options (ended by
    /// `opt_endofopt` when there are any), total length again.
    fn block(&mut self, kind: u32, mut body: Vec<u8>, options: &[Opt]) {
        debug_assert_eq!(body.len() % 4, 0);
        for o in options {
            let len = u16::try_from(o.value.len()).expect("an option value shorter than 64 KiB");
            body.extend_from_slice(&o.code.to_le_bytes());
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(&o.value);
            body.resize(body.len() + padding(o.value.len()), 0);
        }
        if !options.is_empty() {
            body.extend_from_slice(&OPT_ENDOFOPT.to_le_bytes());
            body.extend_from_slice(&0u16.to_le_bytes());
        }
        let total = u32::try_from(12 + body.len()).expect("a block shorter than 4 GiB");
        self.out.extend_from_slice(&kind.to_le_bytes());
        self.out.extend_from_slice(&total.to_le_bytes());
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&total.to_le_bytes());
    }
}

/// A block read back by [`blocks`]: its type, its body (between the two lengths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawBlock<'a> {
    /// Block type.
    pub kind: u32,
    /// Everything between the leading and the trailing total length.
    pub body: &'a [u8],
}

/// Splits a little-endian pcapng file into its blocks, checking that each block's two lengths
/// agree and are multiples of 4: the reader a test of the writer needs.
pub fn blocks(file: &[u8]) -> Result<Vec<RawBlock<'_>>, String> {
    let u32_at = |at: usize| -> Result<u32, String> {
        file.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")))
            .ok_or_else(|| format!("truncated at byte {at}"))
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < file.len() {
        let kind = u32_at(at)?;
        let total = u32_at(at + 4)? as usize;
        if total < 12 || total % 4 != 0 {
            return Err(format!("block at byte {at}: bad total length {total}"));
        }
        let trailer = u32_at(at + total - 4)? as usize;
        if trailer != total {
            return Err(format!("block at byte {at}: lengths {total} and {trailer} differ"));
        }
        out.push(RawBlock {
            kind,
            body: &file[at + 8..at + total - 4],
        });
        at += total;
    }
    Ok(out)
}

/// Reads the options that fill `bytes` (up to and without `opt_endofopt`).
pub fn options(bytes: &[u8]) -> Result<Vec<Opt>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let code = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let len = usize::from(u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]));
        if code == OPT_ENDOFOPT {
            return if len == 0 && at + 4 == bytes.len() {
                Ok(out)
            } else {
                Err(format!("bytes after opt_endofopt at {at}"))
            };
        }
        let value = bytes
            .get(at + 4..at + 4 + len)
            .ok_or_else(|| format!("option {code} at {at} overruns the block"))?;
        out.push(Opt {
            code,
            value: value.to_vec(),
        });
        at += 4 + len + padding(len);
    }
    if at == bytes.len() && out.is_empty() {
        Ok(out)
    } else {
        Err("options without opt_endofopt".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_header() {
        let file = Writer::new(&[]).finish();
        #[rustfmt::skip]
        let expected = [
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, // type, total length 28
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, // byte-order magic, version 1.0
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length unknown
            28, 0, 0, 0,
        ];
        assert_eq!(file, expected);
    }

    #[test]
    fn options_are_padded_and_ended() {
        let mut w = Writer::new(&[]);
        let id = w.interface(LINKTYPE_RAW, 0, &[Opt::if_name("lan"), Opt::if_tsresol_decimal(9)]);
        assert_eq!(id, 0);
        let file = w.finish();
        #[rustfmt::skip]
        let idb = [
            1, 0, 0, 0, 40, 0, 0, 0, // type, total length 40
            101, 0, 0, 0, 0, 0, 0, 0, // LINKTYPE_RAW, reserved, snaplen 0
            2, 0, 3, 0, b'l', b'a', b'n', 0, // if_name "lan", one byte of padding
            9, 0, 1, 0, 9, 0, 0, 0, // if_tsresol 9, three bytes of padding
            0, 0, 0, 0, // opt_endofopt
            40, 0, 0, 0,
        ];
        assert_eq!(&file[28..], &idb);
    }

    #[test]
    fn a_packet_block() {
        let mut w = Writer::new(&[]);
        w.interface(LINKTYPE_RAW, 0, &[]);
        w.interface(LINKTYPE_RAW, 0, &[]);
        w.packet(1, 0x1_0000_0002, &[0xaa, 0xbb, 0xcc, 0xdd, 0xee], &[]);
        let file = w.finish();
        #[rustfmt::skip]
        let epb = [
            6, 0, 0, 0, 40, 0, 0, 0, // type, total length 40
            1, 0, 0, 0, // interface 1
            1, 0, 0, 0, 2, 0, 0, 0, // timestamp: high word, low word
            5, 0, 0, 0, 5, 0, 0, 0, // captured and original length
            0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0, 0, 0, // data, padded
            40, 0, 0, 0,
        ];
        assert_eq!(&file[28 + 20 + 20..], &epb);
    }

    #[test]
    fn what_is_written_reads_back() {
        let mut w = Writer::new(&[Opt::user_application("socksim"), Opt::comment("seed 7")]);
        for name in ["lan", "wan", "lo"] {
            w.interface(LINKTYPE_RAW, 0, &[Opt::if_name(name), Opt::if_tsresol_decimal(9)]);
        }
        for len in 0..9 {
            let data: Vec<u8> = (0..len).collect();
            let comment = "x".repeat(usize::from(len));
            w.packet(
                u32::from(len) % 3,
                u64::from(len) * 1000,
                &data,
                &[Opt::comment(&comment)],
            );
        }
        let file = w.finish();
        let blocks = blocks(&file).unwrap();
        assert_eq!(blocks.len(), 1 + 3 + 9);
        assert_eq!(blocks[0].kind, SHB);
        assert_eq!(
            options(&blocks[0].body[16..]).unwrap(),
            vec![Opt::user_application("socksim"), Opt::comment("seed 7")]
        );
        for (i, b) in blocks[1..4].iter().enumerate() {
            assert_eq!(b.kind, IDB);
            let opts = options(&b.body[8..]).unwrap();
            assert_eq!(opts[0], Opt::if_name(["lan", "wan", "lo"][i]));
        }
        for (len, b) in blocks[4..].iter().enumerate() {
            assert_eq!(b.kind, EPB);
            let word = |at: usize| u32::from_le_bytes(b.body[at..at + 4].try_into().unwrap());
            assert_eq!(word(0), len as u32 % 3);
            assert_eq!(u64::from(word(4)) << 32 | u64::from(word(8)), len as u64 * 1000);
            assert_eq!(word(12) as usize, len);
            let data_end = 20 + len + padding(len);
            assert_eq!(&b.body[20..20 + len], (0..len as u8).collect::<Vec<_>>());
            assert_eq!(
                options(&b.body[data_end..]).unwrap(),
                vec![Opt::comment(&"x".repeat(len))]
            );
        }
    }

    #[test]
    fn the_reader_rejects_broken_blocks() {
        let mut file = Writer::new(&[]).finish();
        file[24] = 32;
        assert!(blocks(&file).is_err());
        assert!(blocks(&file[..20]).is_err());
    }
}
