//! JSON text on its way into a script (the payload) turned straight into JavaScript values.
//!
//! It owns the order of keys: objects get their properties in the order the text has them,
//! as `JSON.parse` does, so `Object.keys(payload)` is what node shows. Going through a
//! `serde_json::Value` first would sort them (its map is ordered by key). A key given twice
//! keeps its first position and its last value, and keys that are array indices come first
//! in ascending order, both as in `JSON.parse`: the engine's property storage does that.

use std::fmt;

use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsObject, JsString, JsValue};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// Parses `text` (one JSON value, surrounding whitespace allowed) into a JavaScript value.
/// Nesting is limited as by `serde_json` (128 levels); a deeper text is an error.
pub(super) fn parse(text: &str, context: &mut Context) -> Result<JsValue, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = JsonSeed { context }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Builds one JSON value in `context`.
struct JsonSeed<'c> {
    context: &'c mut Context,
}

impl<'de> DeserializeSeed<'de> for JsonSeed<'_> {
    type Value = JsValue;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<JsValue, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSeed<'_> {
    type Value = JsValue;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<JsValue, E> {
        Ok(JsValue::null())
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<JsValue, E> {
        Ok(JsValue::new(value))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<JsValue, E> {
        // Small integers are stored as integers, as the engine's own conversion does.
        Ok(i32::try_from(value).map_or_else(|_| JsValue::new(value as f64), JsValue::new))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<JsValue, E> {
        Ok(i32::try_from(value).map_or_else(|_| JsValue::new(value as f64), JsValue::new))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<JsValue, E> {
        Ok(JsValue::new(value))
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<JsValue, E> {
        Ok(JsValue::from(JsString::from(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsValue, A::Error> {
        let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(element) = seq.next_element_seed(JsonSeed {
            context: &mut *self.context,
        })? {
            elements.push(element);
        }
        Ok(JsArray::from_iter(elements, self.context).into())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsValue, A::Error> {
        let object = JsObject::with_object_proto(self.context.intrinsics());
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(JsonSeed {
                context: &mut *self.context,
            })?;
            // A fresh ordinary object accepts every data property; an error here would be
            // an engine defect, reported rather than unwrapped.
            object
                .create_data_property_or_throw(JsString::from(key.as_str()), value, self.context)
                .map_err(|e| A::Error::custom(format!("cannot set key `{key}`: {e}")))?;
        }
        Ok(object.into())
    }
}
