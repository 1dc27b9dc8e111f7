//! Effects: the tag, the cutoff, then the removals, counter resets and additions, each in the
//! order the effect holds them; and the dot of an encoded effect, read without decoding it.

use super::primitive::{
    FORMAT_VERSION, Reader, put_bytes, put_dot, put_list_id, put_num, put_pos, put_str_write,
    put_tag, put_u64, put_var,
};
use super::vv::encode_vv;
use crate::effect::{Addition, Effect, FieldLoc, Loc, Removal, Reset, Value};
use crate::error::DecodeError;
use crate::field::CounterReset;
use crate::ids::{Dot, OpId};
use crate::list::Pos;

fn put_field_loc(out: &mut Vec<u8>, l: &FieldLoc) {
    match l {
        FieldLoc::Str => out.push(0),
        FieldLoc::Hash(n) => {
            out.push(1);
            put_bytes(out, n);
        }
        FieldLoc::ZSet(m) => {
            out.push(2);
            put_bytes(out, m);
        }
    }
}

/// Encode an effect.
pub fn encode_effect(e: &Effect, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    put_tag(out, e.tag);
    match &e.cutoff {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            encode_vv(v, out);
        }
    }
    put_var(out, e.removes.len() as u64);
    for r in &e.removes {
        match &r.loc {
            Loc::Field(l) => {
                out.push(0);
                put_field_loc(out, l);
            }
            Loc::Set(m) => {
                out.push(1);
                put_bytes(out, m);
            }
            Loc::List(id) => {
                out.push(2);
                put_list_id(out, id);
            }
            Loc::Ttl => out.push(3),
            Loc::Stream(l) => {
                out.push(4);
                super::stream::put_loc(out, l);
            }
            Loc::Bits => out.push(5),
        }
        put_dot(out, r.dot);
    }
    put_var(out, e.resets.len() as u64);
    for r in &e.resets {
        put_field_loc(out, &r.loc);
        put_var(out, r.server.0 as u64);
        put_var(out, r.reset.start.0);
        put_var(out, r.reset.op.0);
        put_num(out, r.reset.total);
        put_dot(out, r.reset.by);
    }
    put_var(out, e.adds.len() as u64);
    for a in &e.adds {
        match a {
            Addition::Write { loc, value } => {
                out.push(0);
                put_field_loc(out, loc);
                match value {
                    Value::Bytes(b) => {
                        out.push(0);
                        put_bytes(out, b);
                    }
                    Value::Score(s) => {
                        out.push(1);
                        put_u64(out, s.to_bits());
                    }
                }
            }
            Addition::Incr { loc, start, total } => {
                out.push(1);
                put_field_loc(out, loc);
                put_var(out, start.0);
                put_num(out, *total);
            }
            Addition::Member(m) => {
                out.push(2);
                put_bytes(out, m);
            }
            Addition::ListInsert { pos, value } => {
                out.push(3);
                put_pos(out, pos);
                put_bytes(out, value);
            }
            Addition::ListSet { id, value } => {
                out.push(4);
                put_list_id(out, id);
                put_bytes(out, value);
            }
            Addition::Expire(at) => {
                out.push(5);
                put_u64(out, *at);
            }
            Addition::Persist => out.push(6),
            Addition::Stream(a) => {
                out.push(7);
                super::stream::put_add(out, a);
            }
            Addition::Bits(w) => {
                out.push(8);
                put_str_write(out, w);
            }
        }
    }
}

/// What [`effect_len_bound`] counts for each removal, counter reset or addition besides its
/// byte strings and list positions: its kind bytes, varint lengths, ids and numbers (a
/// dot's three varints take at most 20 bytes, a counter total 17, a reset 73, a bit write
/// 21).
const PIECE_BYTES_MAX: usize = 80;
/// The version byte, the tag (a dot and an HLC time), the cutoff flag and the three counts.
const EFFECT_HEAD_BYTES_MAX: usize = 64;
/// A version vector's count, then per entry a server-id and an op id, as varints.
const VV_BYTES_MAX_EACH: usize = 15;

/// At most how many bytes [`encode_effect`] writes for `e`, found without encoding it;
/// `None` for an effect with stream pieces, which must be encoded to be measured. A binlog
/// that knows a record is within its limit may encode it later, with others.
pub fn effect_len_bound(e: &Effect) -> Option<usize> {
    let pos = |p: &Pos| 8 * p.0.len();
    let field = |l: &FieldLoc| match l {
        FieldLoc::Str => 0,
        FieldLoc::Hash(b) | FieldLoc::ZSet(b) => b.len(),
    };
    let mut n = EFFECT_HEAD_BYTES_MAX;
    if let Some(v) = &e.cutoff {
        n += 10 + VV_BYTES_MAX_EACH * v.len();
    }
    for r in &e.resets {
        n += PIECE_BYTES_MAX + field(&r.loc);
    }
    for r in &e.removes {
        n += PIECE_BYTES_MAX
            + match &r.loc {
                Loc::Field(l) => field(l),
                Loc::Set(m) => m.len(),
                Loc::List(id) => pos(&id.pos),
                Loc::Ttl | Loc::Bits => 0,
                Loc::Stream(_) => return None,
            };
    }
    for a in &e.adds {
        n += PIECE_BYTES_MAX
            + match a {
                Addition::Write { loc, value } => {
                    field(loc)
                        + match value {
                            Value::Bytes(b) => b.len(),
                            Value::Score(_) => 0,
                        }
                }
                Addition::Incr { loc, .. } => field(loc),
                Addition::Member(m) => m.len(),
                Addition::ListInsert { pos: p, value } => pos(p) + value.len(),
                Addition::ListSet { id, value } => pos(&id.pos) + value.len(),
                Addition::Expire(_) | Addition::Persist => 0,
                Addition::Bits(w) => w.payload_len(),
                Addition::Stream(_) => return None,
            };
    }
    Some(n)
}

impl Reader<'_> {
    fn field_loc(&mut self) -> Result<FieldLoc, DecodeError> {
        Ok(match self.u8()? {
            0 => FieldLoc::Str,
            1 => FieldLoc::Hash(self.blob()?),
            2 => FieldLoc::ZSet(self.blob()?),
            _ => return Err(DecodeError::Invalid("field location")),
        })
    }
}

/// The dot of an encoded effect, read without decoding the rest (to filter by origin).
pub fn effect_dot(b: &[u8]) -> Result<Dot, DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    r.dot()
}

/// Decode an effect written by [`encode_effect`].
pub fn decode_effect(b: &[u8]) -> Result<Effect, DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let mut e = Effect::new(r.tag()?);
    e.cutoff = match r.u8()? {
        0 => None,
        1 => Some(r.vv()?),
        _ => return Err(DecodeError::Invalid("cutoff flag")),
    };
    for _ in 0..r.count()? {
        let loc = match r.u8()? {
            0 => Loc::Field(r.field_loc()?),
            1 => Loc::Set(r.blob()?),
            2 => Loc::List(r.list_id()?),
            3 => Loc::Ttl,
            4 => Loc::Stream(Box::new(r.stream_loc()?)),
            5 => Loc::Bits,
            _ => return Err(DecodeError::Invalid("removal location")),
        };
        e.removes.push(Removal { loc, dot: r.dot()? });
    }
    for _ in 0..r.count()? {
        let loc = r.field_loc()?;
        let server = r.server()?;
        let reset = CounterReset {
            start: OpId(r.var()?),
            op: OpId(r.var()?),
            total: r.num()?,
            by: r.dot()?,
        };
        e.resets.push(Reset { loc, server, reset });
    }
    for _ in 0..r.count()? {
        let a = match r.u8()? {
            0 => {
                let loc = r.field_loc()?;
                let value = match r.u8()? {
                    0 => Value::Bytes(r.blob()?),
                    1 => Value::Score(f64::from_bits(r.u64()?)),
                    _ => return Err(DecodeError::Invalid("value kind")),
                };
                Addition::Write { loc, value }
            }
            1 => Addition::Incr {
                loc: r.field_loc()?,
                start: OpId(r.var()?),
                total: r.num()?,
            },
            2 => Addition::Member(r.blob()?),
            3 => Addition::ListInsert {
                pos: r.pos()?,
                value: r.blob()?,
            },
            4 => Addition::ListSet {
                id: r.list_id()?,
                value: r.blob()?,
            },
            5 => Addition::Expire(r.u64()?),
            6 => Addition::Persist,
            7 => Addition::Stream(Box::new(r.stream_add()?)),
            8 => Addition::Bits(r.str_write()?),
            _ => return Err(DecodeError::Invalid("addition kind")),
        };
        e.adds.push(a);
    }
    r.finish()?;
    Ok(e)
}
