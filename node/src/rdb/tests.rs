//! The codec against payloads redis-server 7.0.15 wrote (captured with `DUMP` from a
//! redis-server with default settings unless a test says otherwise), and against payloads
//! in the older encodings redis-server 7.0.15 was checked to RESTORE.

use super::*;
use gdc_crdt::Blob;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn b(s: &str) -> Blob {
    Blob::from(s)
}

fn list(items: &[&str]) -> Whole {
    Whole::List(items.iter().map(|s| b(s)).collect())
}

/// `body` (type byte and value) with its version and checksum.
fn with_footer(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64::crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn restored(payload_hex: &str) -> Whole {
    restore(&hex(payload_hex)).expect("a payload redis-server wrote")
}

#[test]
fn strings_restore_and_dump_as_redis_server_writes_them() {
    let rand = "abcdefghijklmnopqrstuvwxyz0123456789";
    let long = "a".repeat(40);
    let cases: &[(&str, &str)] = &[
        ("123", "00c07b0a0048e253e1007a67b9"),
        ("-200", "00c138ff0a00223b8fbbe8f461f3"),
        ("30000", "00c130750a0049977f92988c365b"),
        ("2000000000", "00c2009435770a00421228d8e073c087"),
        (
            "12345678901",
            "000b31323334353637383930310a00304e52d727176510",
        ),
        ("hello", "000568656c6c6f0a006372df766534200a"),
        (&long, "00c30928016161e01b000161610a00cf092faaae25831d"),
        (
            rand,
            "0024 6162636465666768696a6b6c6d6e6f707172737475767778797a30313233343536373839
             0a00c3d18e5aec8d8f0d",
        ),
    ];
    for (value, payload) in cases {
        let whole = Whole::Str(b(value));
        assert_eq!(restored(payload), whole, "{value}");
        assert_eq!(dump(&whole), hex(payload), "{value}");
    }
}

#[test]
fn lists_restore_from_every_quicklist_node_kind() {
    // Listpack nodes with strings and 7-bit, 13-bit integers.
    assert_eq!(
        restored("120102131300000004008161028162020c01f178ec03ff0a00a648b7a21f177cd9"),
        list(&["a", "b", "12", "-5000"])
    );
    // A node compressed with LZF.
    let x100 = "x".repeat(100);
    assert_eq!(
        restored(
            "120102c326408f108f000000040089656c656d656e742d300ae0000a0031e0010a04320ae06478e0
             5a000166ff0a001ac91ff1bf865c02"
        ),
        list(&["element-0", "element-1", "element-2", &x100])
    );
    // Two nodes (list-max-listpack-size 2).
    assert_eq!(
        restored("1202020d0d0000000200816102816202ff020a0a0000000100816302ff0a00a60192a8f736b5c0"),
        list(&["a", "b", "c"])
    );
    // A plain node between packed ones (DEBUG QUICKLIST-PACKED-THRESHOLD 20).
    let b25 = "b".repeat(25);
    assert_eq!(
        restored(
            "1203020a0a0000000100816102ff01c30919016262e00c00016262020a0a0000000100816302ff
             0a008c793f3b66a4f8de"
        ),
        list(&["a", &b25, "c"])
    );
    // list-max-listpack-size 2 and list-compress-depth 1: eight nodes, all compressed.
    let comp = restored(
        "120402c3164047074700000002009e61e01400021f9e62e01400011fff02c3164047074700000002009e
         63e01400021f9e64e01400011fff02c3164047074700000002009e65e01400021f9e66e01400011fff02
         c3164047074700000002009e67e01400021f9e68e01400011fff0a00416405038a74df98",
    );
    let letters: Vec<String> = (b'a'..=b'h')
        .map(|c| (c as char).to_string().repeat(30))
        .collect();
    let letters: Vec<&str> = letters.iter().map(String::as_str).collect();
    assert_eq!(comp, list(&letters));
}

#[test]
fn sets_restore_from_intset_and_hashtable() {
    assert_eq!(
        restored(
            "0b1c0400000005000000f9ffffff010000000200000003000000a08601000a0029b97dfc0598e506"
        ),
        Whole::Set(["-7", "1", "2", "3", "100000"].map(b).to_vec())
    );
    let set = Whole::Set(["a", "c", "b"].map(b).to_vec());
    let payload = "02030161016301620a000d7e8a014cfe326c";
    assert_eq!(restored(payload), set);
    assert_eq!(dump(&set), hex(payload));
}

#[test]
fn sorted_sets_restore_from_listpack_and_skiplist() {
    let z = |items: &[(&str, f64)]| Whole::ZSet(items.iter().map(|(m, s)| (b(m), *s)).collect());
    assert_eq!(
        restored("111a1a0000000600816302dffd02816102010181620283322e3504ff0a00a68a1ab1a9f2dcc2"),
        z(&[("c", -3.0), ("a", 1.0), ("b", 2.5)])
    );
    assert_eq!(
        restored(
            "111e1e0000000600836f6e65040101816b02c3e8028362696704f270110104ff0a002d1c9bde7ca803cd"
        ),
        z(&[("one", 1.0), ("k", 1000.0), ("big", 70000.0)])
    );
    // zset-max-listpack-entries 2: a skiplist, written highest score first.
    let skiplist = z(&[("c", -3.0), ("a", 1.0), ("b", 2.5)]);
    let payload =
        "0503016200000000000004400161000000000000f03f016300000000000008c00a007dde396dd26c0a9e";
    assert_eq!(restored(payload), z(&[("b", 2.5), ("a", 1.0), ("c", -3.0)]));
    assert_eq!(dump(&skiplist), hex(payload));
}

#[test]
fn hashes_restore_from_listpack_and_hashtable() {
    let h = |pairs: &[(&str, &str)]| Whole::Hash(pairs.iter().map(|(f, v)| (b(f), b(v))).collect());
    assert_eq!(
        restored("10151500000004008266310382763103826632031601ff0a00794ee62e9c48a90c"),
        h(&[("f1", "v1"), ("f2", "22")])
    );
    // hash-max-listpack-entries 1: a hash table.
    let big = h(&[("f1", "v1"), ("f2", "v2")]);
    let payload = "04020266310276310266320276320a001ed3d645cdba65de";
    assert_eq!(restored(payload), big);
    assert_eq!(dump(&big), hex(payload));
}

#[test]
fn older_encodings_restore() {
    let pairs = |w: Whole| match w {
        Whole::Hash(p) => p,
        other => panic!("not a hash: {other:?}"),
    };
    let f1f2 = vec![(b("f1"), b("v1")), (b("f2"), b("v2"))];
    // From redis's tests/assets: hash-zipmap.rdb, hash-ziplist.rdb, zset-ziplist.rdb and
    // list-quicklist.rdb, each value with a version-9 footer.
    assert_eq!(
        pairs(restored(
            "0910020266310200763102663202007632ff0900b74965a97fda143a"
        )),
        f1f2
    );
    assert_eq!(
        pairs(restored(
            "0d1b1b00000016000000040000026631040276310402663204027632ff0900777d2e23e132521f"
        )),
        f1f2
    );
    assert_eq!(
        restored("0c191900000016000000040000036f6e6505f2020374776f05f3ff0900b01b5a5a7892697b"),
        Whole::ZSet(vec![(b("one"), 1.0), (b("two"), 2.0)])
    );
    assert_eq!(
        restored("0e010d0d0000000a000000010000f8ff0900793465722083a404"),
        list(&["7"])
    );
    // The plain LIST and the old ZSET with scores as text (255 is -inf): what redis-server
    // wrote before quicklists and binary scores.
    assert_eq!(
        restored("01030161c07bc130750a00f32e26913e475b35"),
        list(&["a", "123", "30000"])
    );
    assert_eq!(
        restored("030301610131016203322e350163ff09008d1d019f20b1d6bc"),
        Whole::ZSet(vec![
            (b("a"), 1.0),
            (b("b"), 2.5),
            (b("c"), f64::NEG_INFINITY)
        ])
    );
}

/// A ziplist of the given entries (encoding and data each), previous lengths filled in.
fn ziplist(entries: &[Vec<u8>]) -> Vec<u8> {
    let (mut body, mut prev, mut last) = (Vec::new(), 0usize, 10usize);
    for e in entries {
        last = 10 + body.len();
        let start = body.len();
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(0xfe);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        body.extend_from_slice(e);
        prev = body.len() - start;
    }
    let mut z = ((10 + body.len() + 1) as u32).to_le_bytes().to_vec();
    z.extend_from_slice(&(last as u32).to_le_bytes());
    z.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    z.extend_from_slice(&body);
    z.push(0xff);
    z
}

#[test]
fn a_ziplist_of_every_entry_encoding_restores() {
    // The same payload was RESTOREd by redis-server 7.0.15 to the same list.
    let mut x300 = vec![0x41, 0x2c];
    x300.extend_from_slice(&[b'x'; 300]);
    let entries = vec![
        b"\x03abc".to_vec(),
        b"\x40\x02dd".to_vec(),
        b"\x80\x00\x00\x00\x01e".to_vec(),
        [&[0xc0][..], &30000i16.to_le_bytes()].concat(),
        [&[0xd0][..], &(-2_000_000_000i32).to_le_bytes()].concat(),
        [&[0xe0][..], &9_000_000_000_000_000_000i64.to_le_bytes()].concat(),
        [&[0xf0][..], &(-1_000_000i32).to_le_bytes()[..3]].concat(),
        vec![0xfe, 0xfb],
        vec![0xf1],
        vec![0xfd],
        x300,
        b"\x01z".to_vec(),
    ];
    let z = ziplist(&entries);
    let mut body = vec![kind::LIST_ZIPLIST, 0x80];
    body.extend_from_slice(&(z.len() as u32).to_be_bytes());
    body.extend_from_slice(&z);
    let x = "x".repeat(300);
    let want = list(&[
        "abc",
        "dd",
        "e",
        "30000",
        "-2000000000",
        "9000000000000000000",
        "-1000000",
        "-5",
        "0",
        "12",
        &x,
        "z",
    ]);
    assert_eq!(restore(&with_footer(&body, 9)), Ok(want));
    // A previous length that does not match is refused.
    let mut broken = body.clone();
    broken[6 + 10 + 5] = 4;
    assert!(matches!(
        restore(&with_footer(&broken, 9)),
        Err(Error::Format(_))
    ));
}

#[test]
fn a_wrong_checksum_a_newer_version_or_a_short_payload_is_refused() {
    let good = hex("00c07b0a0048e253e1007a67b9");
    assert!(restore(&good).is_ok());
    for at in [0, 2, good.len() - 1] {
        let mut p = good.clone();
        p[at] ^= 1;
        assert_eq!(restore(&p), Err(Error::Footer), "byte {at} changed");
    }
    assert_eq!(
        restore(&with_footer(&[0, 0xc0, 0x7b], 11)),
        Err(Error::Footer)
    );
    assert_eq!(
        restore(&with_footer(&[0, 0xc0, 0x7b], 6)),
        Ok(Whole::Str(b("123")))
    );
    assert_eq!(restore(&good[..9]), Err(Error::Footer));
    assert_eq!(restore(b"..."), Err(Error::Footer));
}

#[test]
fn malformed_empty_or_unsupported_values_are_bad_data() {
    let bad_data = |body: &[u8]| matches!(restore(&with_footer(body, 10)), Err(Error::Format(_)));
    assert!(bad_data(&[]), "no type byte");
    assert!(bad_data(&[15, 0]), "a stream");
    assert!(bad_data(&[7, 0]), "a module value");
    assert!(bad_data(&[8, 0]), "type 8 does not exist");
    assert!(bad_data(&[kind::SET, 0]), "an empty set");
    assert!(
        bad_data(&[kind::SET, 2, 1, b'a', 1, b'a']),
        "a member twice"
    );
    assert!(
        bad_data(&[kind::HASH, 2, 1, b'f', 0, 1, b'f', 0]),
        "a field twice"
    );
    assert!(
        bad_data(&[kind::LIST, 3, 1, b'a']),
        "fewer elements than said"
    );
    assert!(bad_data(&[kind::STRING, 5, b'a']), "a short string");
    assert!(
        bad_data(&[kind::STRING, 0xc3, 2, 5, 0x00, b'a']),
        "a short LZF string"
    );
    let mut nan = vec![kind::ZSET_2, 1, 1, b'a'];
    nan.extend_from_slice(&f64::NAN.to_le_bytes());
    assert!(bad_data(&nan), "a NaN score");
    // A listpack whose total length is off by one.
    let mut lp = hex("111a1a0000000600816302dffd02816102010181620283322e3504ff");
    lp[2] = 0x1b;
    assert!(bad_data(&lp), "a listpack of the wrong size");
}

#[test]
fn every_value_round_trips_through_dump_and_restore() {
    let long: Vec<Blob> = (0..2000)
        .map(|i| Blob::from(format!("element:{i}:{}", "y".repeat(i % 50)).as_str()))
        .collect();
    let values = [
        Whole::Str(Blob::from("")),
        Whole::Str(Blob::from("-0")),
        Whole::Str(Blob::from("2147483648")),
        Whole::Str(Blob::from(vec![0u8; 100_000])),
        Whole::List(long.clone()),
        Whole::Set(long.clone()),
        Whole::Hash(long.iter().map(|m| (m.clone(), Blob::from("v"))).collect()),
        Whole::ZSet(vec![
            (b("lo"), f64::NEG_INFINITY),
            (b("zero"), -0.0),
            (b("pi"), std::f64::consts::PI),
            (b("hi"), f64::INFINITY),
        ]),
    ];
    for v in values {
        let back = restore(&dump(&v)).expect("own payload");
        let back = match (back, &v) {
            // Scores are written highest first.
            (Whole::ZSet(mut z), Whole::ZSet(_)) => {
                z.reverse();
                Whole::ZSet(z)
            }
            (other, _) => other,
        };
        assert_eq!(back, v);
    }
}
