//! A score item read straight from JSON text without failing on what is in it: every field is
//! captured as it came (a number, a numeric string, `null`, absent or something else), so the
//! payload rules (`api::decode_score_wires`) judge each item alone, and a `score` event
//! of hundreds of items is decoded in one pass with no `serde_json::Value` tree (each item a
//! map of owned keys) built first. Only broken JSON syntax fails the whole payload, as before.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smol_str::SmolStr;

use crate::model::Level;

/// The number a numeric string holds: trimmed, parsed, and kept only when finite.
pub fn parse_number(text: &str) -> Option<f64> {
    let v: f64 = text.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

/// One score field as it came.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Field {
    /// Not in the item.
    #[default]
    Missing,
    /// `null`.
    Null,
    /// A number, or a string holding a finite one ([`parse_number`]).
    Num(f32),
    /// Anything else: a wrong type.
    Bad,
}

/// One item of a `score` payload as it came ([`Deserialize`] never fails on its content).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreWire {
    /// Whether it was a JSON object.
    pub shape_ok: bool,
    /// The unit id, when it was a non-empty string or an integer (`canonical_id`'s rule).
    pub unit: Option<SmolStr>,
    /// `total`, `threat`, `asset`, `compliance`.
    pub fields: [Field; 4],
    /// `level`: absent or `null` is `Ok(None)`; a name that is not a level is `Err`.
    pub level: Result<Option<Level>, ()>,
}

impl Default for ScoreWire {
    /// Not an object: a wrong type.
    fn default() -> Self {
        Self { shape_ok: false, unit: None, fields: [Field::Missing; 4], level: Ok(None) }
    }
}

enum Key {
    Unit,
    Part(usize),
    Level,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct K;
        impl Visitor<'_> for K {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "unit" => Key::Unit,
                    "total" => Key::Part(0),
                    "threat" => Key::Part(1),
                    "asset" => Key::Part(2),
                    "compliance" => Key::Part(3),
                    "level" => Key::Level,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(K)
    }
}

/// Reads any value into `T`'s "bad" form, consuming maps and sequences whole.
macro_rules! drain_nested {
    ($bad:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($bad)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($bad)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($bad)
        }
    };
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct F;
        impl<'de> Visitor<'de> for F {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a score field")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field, E> {
                Ok(Field::Num(v as f32))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field, E> {
                Ok(Field::Num(v as f32))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
                Ok(Field::Num(v as f32))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(parse_number(v).map_or(Field::Bad, |n| Field::Num(n as f32)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
                Ok(Field::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Field, E> {
                Ok(Field::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
                d.deserialize_any(self)
            }
            drain_nested!(Field::Bad);
        }
        d.deserialize_any(F)
    }
}

/// A unit id: a non-empty string (trimmed) or an integer, as `geo::load::canonical_id` reads
/// one from a `Value`; anything else is `None`.
struct UnitId(Option<SmolStr>);

impl<'de> Deserialize<'de> for UnitId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct U;
        impl<'de> Visitor<'de> for U {
            type Value = UnitId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a unit id")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UnitId, E> {
                let v = v.trim();
                Ok(UnitId((!v.is_empty()).then(|| SmolStr::new(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnitId, E> {
                Ok(UnitId(Some(smol_str::format_smolstr!("{v}"))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnitId, E> {
                Ok(UnitId(Some(smol_str::format_smolstr!("{v}"))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<UnitId, E> {
                Ok(UnitId((v.fract() == 0.0 && v.abs() < 1e15).then(|| smol_str::format_smolstr!("{v:.0}"))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<UnitId, E> {
                Ok(UnitId(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<UnitId, E> {
                Ok(UnitId(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<UnitId, D::Error> {
                d.deserialize_any(self)
            }
            drain_nested!(UnitId(None));
        }
        d.deserialize_any(U)
    }
}

/// `level`: a level's name, or `null`; anything else is `Err(())`.
struct LevelField(Result<Option<Level>, ()>);

impl<'de> Deserialize<'de> for LevelField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct L;
        impl<'de> Visitor<'de> for L {
            type Value = LevelField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a level")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LevelField, E> {
                Ok(LevelField(Level::ALL.into_iter().find(|l| l.label_en() == v).map(Some).ok_or(())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LevelField, E> {
                Ok(LevelField(Ok(None)))
            }
            fn visit_none<E: de::Error>(self) -> Result<LevelField, E> {
                Ok(LevelField(Ok(None)))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<LevelField, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LevelField, E> {
                Ok(LevelField(Err(())))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LevelField, E> {
                Ok(LevelField(Err(())))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LevelField, E> {
                Ok(LevelField(Err(())))
            }
            drain_nested!(LevelField(Err(())));
        }
        d.deserialize_any(L)
    }
}

impl<'de> Deserialize<'de> for ScoreWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct W;
        impl<'de> Visitor<'de> for W {
            type Value = ScoreWire;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a score item")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ScoreWire, A::Error> {
                // A key given twice: the last one counts, as when the text is read into a
                // `Value` first.
                let mut out = ScoreWire { shape_ok: true, ..ScoreWire::default() };
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Unit => out.unit = map.next_value::<UnitId>()?.0,
                        Key::Part(i) => out.fields[i] = map.next_value()?,
                        Key::Level => out.level = map.next_value::<LevelField>()?.0,
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ScoreWire, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ScoreWire::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ScoreWire, E> {
                Ok(ScoreWire::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ScoreWire, E> {
                Ok(ScoreWire::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ScoreWire, E> {
                Ok(ScoreWire::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ScoreWire, E> {
                Ok(ScoreWire::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ScoreWire, E> {
                Ok(ScoreWire::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScoreWire, E> {
                Ok(ScoreWire::default())
            }
        }
        d.deserialize_any(W)
    }
}

/// A `score` event's data read in one pass: `as_of` and its items as they came.
#[derive(Debug, Deserialize)]
pub struct ScoreEventWire {
    /// When the scores were computed.
    pub as_of: chrono::DateTime<chrono::FixedOffset>,
    /// The items.
    pub scores: Vec<ScoreWire>,
}
