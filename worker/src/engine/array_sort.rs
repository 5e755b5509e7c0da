//! `Array.prototype.sort` and `Array.prototype.toSorted`, replacing the engine's own.
//!
//! The engine sorts with the Rust standard library, which panics when a comparator is not
//! a consistent total order (`() => Math.random() - 0.5`, or one that reads state it
//! changes). JavaScript allows any comparator: the specification only says the order is
//! then implementation-defined, and V8 returns some permutation of the elements. This is
//! a stable merge sort that never assumes consistency: every comparator answer is used
//! once and never checked, so any comparator gives a permutation, and a consistent one
//! gives the one sorted order. A comparator that throws stops the sort with its error.

use std::cmp::Ordering;

use boa_engine::native_function::NativeFunctionPointer;
use boa_engine::object::builtins::JsArray;
use boa_engine::{
    Context, JsError, JsNativeError, JsObject, JsResult, JsValue, NativeFunction, js_string,
};

use super::builtin;

/// Installs both methods on `Array.prototype`, with the attributes of the built-ins.
pub(super) fn install(context: &mut Context) -> JsResult<()> {
    let prototype = context.intrinsics().constructors().array().prototype();
    let methods: [(&str, NativeFunctionPointer); 2] = [("sort", sort), ("toSorted", to_sorted)];
    for (name, body) in methods {
        let function = builtin::function(context, name, 1, NativeFunction::from_fn_ptr(body));
        builtin::define_method(&prototype, name, function, context)?;
    }
    Ok(())
}

/// `Array.prototype.sort(comparefn)`: sorts the present elements in place, `undefined`
/// last, and deletes the indices left over where holes were.
fn sort(this: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let comparator = comparator_of(args)?;
    let object = this.to_object(context)?;
    let len = length_of(&object, context)?;
    let sorted = sorted_items(&object, len, true, comparator.as_ref(), context)?;
    let count = sorted.len() as u64;
    for (index, value) in (0_u64..).zip(sorted) {
        object.set(index, value, true, context)?;
    }
    for index in count..len {
        object.delete_property_or_throw(index, context)?;
    }
    Ok(object.into())
}

/// `Array.prototype.toSorted(comparefn)`: a new sorted array; holes read as `undefined`.
fn to_sorted(this: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let comparator = comparator_of(args)?;
    let object = this.to_object(context)?;
    let len = length_of(&object, context)?;
    if len > u64::from(u32::MAX) {
        return Err(JsNativeError::range()
            .with_message("toSorted: the array is longer than 2^32 - 1 elements")
            .into());
    }
    let sorted = sorted_items(&object, len, false, comparator.as_ref(), context)?;
    Ok(JsArray::from_iter(sorted, context).into())
}

/// The comparator argument: `undefined` (string order) or a function.
fn comparator_of(args: &[JsValue]) -> JsResult<Option<JsObject>> {
    match args.first() {
        None => Ok(None),
        Some(value) if value.is_undefined() => Ok(None),
        Some(value) => value.as_callable().map(Some).ok_or_else(|| {
            JsNativeError::typ()
                .with_message("the comparison function must be either a function or undefined")
                .into()
        }),
    }
}

fn length_of(object: &JsObject, context: &mut Context) -> JsResult<u64> {
    object
        .get(js_string!("length"), context)?
        .to_length(context)
}

/// Reads indices `0..len` (skipping holes if `skip_holes`), sorts them as the
/// specification's SortCompare orders them and returns them.
fn sorted_items(
    object: &JsObject,
    len: u64,
    skip_holes: bool,
    comparator: Option<&JsObject>,
    context: &mut Context,
) -> JsResult<Vec<JsValue>> {
    let mut defined = Vec::new();
    let mut undefined_count = 0_usize;
    for index in 0..len {
        if skip_holes && !object.has_property(index, context)? {
            continue;
        }
        let value = object.get(index, context)?;
        if value.is_undefined() {
            undefined_count += 1;
        } else {
            defined.push(value);
        }
    }
    let mut sorted = match comparator {
        Some(comparator) => merge_sort(
            defined,
            &mut |x, y, context| {
                let answer =
                    comparator.call(&JsValue::undefined(), &[x.clone(), y.clone()], context)?;
                let number = answer.to_number(context)?;
                // NaN counts as +0, as in the specification.
                Ok(number > 0.0)
            },
            context,
        )?,
        None => {
            // Each element is converted to a string once, not once per comparison.
            let mut keyed = Vec::with_capacity(defined.len());
            for value in defined {
                keyed.push((value.to_string(context)?, value));
            }
            let keyed = merge_sort(
                keyed,
                &mut |x, y, _| Ok(x.0.cmp(&y.0) == Ordering::Greater),
                context,
            )?;
            keyed.into_iter().map(|(_, value)| value).collect()
        }
    };
    sorted.extend(std::iter::repeat_n(JsValue::undefined(), undefined_count));
    Ok(sorted)
}

/// A stable bottom-up merge sort. `after(x, y)` says whether `x` goes strictly after `y`;
/// ties keep the earlier element first. Nothing is assumed of the answers.
fn merge_sort<T: Clone>(
    mut items: Vec<T>,
    after: &mut dyn FnMut(&T, &T, &mut Context) -> Result<bool, JsError>,
    context: &mut Context,
) -> JsResult<Vec<T>> {
    let len = items.len();
    let mut buffer: Vec<T> = Vec::with_capacity(len);
    let mut width = 1;
    while width < len {
        buffer.clear();
        let mut start = 0;
        while start < len {
            let middle = (start + width).min(len);
            let end = (start + 2 * width).min(len);
            let (mut left, mut right) = (start, middle);
            while left < middle && right < end {
                if after(&items[left], &items[right], context)? {
                    buffer.push(items[right].clone());
                    right += 1;
                } else {
                    buffer.push(items[left].clone());
                    left += 1;
                }
            }
            buffer.extend_from_slice(&items[left..middle]);
            buffer.extend_from_slice(&items[right..end]);
            start = end;
        }
        std::mem::swap(&mut items, &mut buffer);
        width *= 2;
    }
    Ok(items)
}
