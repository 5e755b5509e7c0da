//! `%TypedArray%.prototype.sort` and `toSorted` with a comparator, replacing the engine's.
//!
//! The engine sorts typed arrays with the Rust standard library too, and reads a
//! comparator's `0` as "greater", so even a consistent comparator can break the library's
//! total-order check and panic; and ties did not keep their order. With a comparator, this
//! sorts with the same merge sort as `Array.prototype.sort` (any answer is accepted, ties
//! stay in order). Without one the engine's numeric sort is right and is kept.

use boa_engine::object::builtins::{JsArrayBuffer, JsFunction, JsTypedArray};
use boa_engine::{Context, JsNativeError, JsObject, JsResult, JsValue, NativeFunction};

use super::array_sort::{comparator_of, merge_sort};
use super::builtin;

/// Replaces both methods on `%TypedArray%.prototype`, keeping the engine's as fallbacks.
pub(super) fn install(context: &mut Context) -> JsResult<()> {
    let prototype = context
        .intrinsics()
        .constructors()
        .typed_array()
        .prototype();
    type Body = fn(&JsValue, &[JsValue], &JsFunction, &mut Context) -> JsResult<JsValue>;
    let methods: [(&str, Body); 2] = [("sort", sort), ("toSorted", to_sorted)];
    for (name, body) in methods {
        let original = builtin::engine_function(&prototype, name, context)?;
        let function = builtin::function(
            context,
            name,
            1,
            NativeFunction::from_copy_closure_with_captures(body, original),
        );
        builtin::define_method(&prototype, name, function, context)?;
    }
    Ok(())
}

/// `sort(comparefn)`: sorts in place and returns the array.
fn sort(
    this: &JsValue,
    args: &[JsValue],
    original: &JsFunction,
    context: &mut Context,
) -> JsResult<JsValue> {
    let Some(comparator) = comparator_of(args)? else {
        return original.call(this, args, context);
    };
    let array = attached_typed_array(this, context)?;
    let sorted = sorted_elements(&array, &comparator, context)?;
    write(array.clone().into(), sorted, context)?;
    Ok(array.into())
}

/// `toSorted(comparefn)`: a sorted copy of the same type. The engine's method without a
/// comparator validates `this` and makes that copy; its elements are then put in order.
fn to_sorted(
    this: &JsValue,
    args: &[JsValue],
    original: &JsFunction,
    context: &mut Context,
) -> JsResult<JsValue> {
    let Some(comparator) = comparator_of(args)? else {
        return original.call(this, args, context);
    };
    let copy = original.call(this, &[], context)?;
    let array = attached_typed_array(this, context)?;
    let sorted = sorted_elements(&array, &comparator, context)?;
    let copy_object = copy
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("toSorted made no typed array"))?;
    write(copy_object, sorted, context)?;
    Ok(copy)
}

/// `this` as a typed array whose buffer is not detached (ValidateTypedArray).
fn attached_typed_array(this: &JsValue, context: &mut Context) -> JsResult<JsTypedArray> {
    let not_typed = || JsNativeError::typ().with_message("this is not a typed array");
    let object = this.as_object().ok_or_else(not_typed)?;
    let array = JsTypedArray::from_object(object).map_err(|_| not_typed())?;
    let detached = array
        .buffer(context)?
        .as_object()
        .and_then(|buffer| JsArrayBuffer::from_object(buffer).ok())
        .is_some_and(|buffer| buffer.data().is_none());
    if detached {
        return Err(JsNativeError::typ()
            .with_message("the typed array's buffer is detached")
            .into());
    }
    Ok(array)
}

/// The elements of `array`, sorted by `comparator` (stable; a result that is NaN or not
/// above zero keeps the pair in order, as the specification's SortCompare says).
fn sorted_elements(
    array: &JsTypedArray,
    comparator: &JsObject,
    context: &mut Context,
) -> JsResult<Vec<JsValue>> {
    let len = array.length(context)?;
    let object: JsObject = array.clone().into();
    let mut elements = Vec::with_capacity(len);
    for index in 0..len {
        elements.push(object.get(index, context)?);
    }
    merge_sort(
        elements,
        &mut |x, y, context| {
            let answer =
                comparator.call(&JsValue::undefined(), &[x.clone(), y.clone()], context)?;
            Ok(answer.to_number(context)? > 0.0)
        },
        context,
    )
}

/// Stores `sorted` at indices 0.. of `target`. A comparator that shrank or detached the
/// buffer makes the stores past its end do nothing, as in the specification.
fn write(target: JsObject, sorted: Vec<JsValue>, context: &mut Context) -> JsResult<()> {
    for (index, value) in sorted.into_iter().enumerate() {
        target.set(index, value, true, context)?;
    }
    Ok(())
}
