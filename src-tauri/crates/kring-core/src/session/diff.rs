//! A serializable mirror of `eyeball_im::VectorDiff`, so list streams can
//! cross the IPC boundary as "Reset, then diffs".

use eyeball_im::VectorDiff;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum ListDiff<T> {
    Reset { values: Vec<T> },
    Append { values: Vec<T> },
    Clear,
    PushFront { value: T },
    PushBack { value: T },
    PopFront,
    PopBack,
    Insert { index: u32, value: T },
    Set { index: u32, value: T },
    Remove { index: u32 },
    Truncate { length: u32 },
}

fn idx(i: usize) -> u32 {
    // Lists shown to a person never approach u32::MAX entries.
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl<T> ListDiff<T> {
    pub fn from_vector_diff<S: Clone>(diff: VectorDiff<S>, map: impl Fn(S) -> T) -> Self {
        match diff {
            VectorDiff::Append { values } => Self::Append { values: values.into_iter().map(map).collect() },
            VectorDiff::Clear => Self::Clear,
            VectorDiff::PushFront { value } => Self::PushFront { value: map(value) },
            VectorDiff::PushBack { value } => Self::PushBack { value: map(value) },
            VectorDiff::PopFront => Self::PopFront,
            VectorDiff::PopBack => Self::PopBack,
            VectorDiff::Insert { index, value } => Self::Insert { index: idx(index), value: map(value) },
            VectorDiff::Set { index, value } => Self::Set { index: idx(index), value: map(value) },
            VectorDiff::Remove { index } => Self::Remove { index: idx(index) },
            VectorDiff::Truncate { length } => Self::Truncate { length: idx(length) },
            VectorDiff::Reset { values } => Self::Reset { values: values.into_iter().map(map).collect() },
        }
    }

    /// Applies this diff to a local copy: what the UI does, and what the CLI
    /// and tests use to keep the current list.
    pub fn apply(self, list: &mut Vec<T>) {
        match self {
            Self::Reset { values } => *list = values,
            Self::Append { values } => list.extend(values),
            Self::Clear => list.clear(),
            Self::PushFront { value } => list.insert(0, value),
            Self::PushBack { value } => list.push(value),
            Self::PopFront => {
                if !list.is_empty() {
                    list.remove(0);
                }
            }
            Self::PopBack => {
                list.pop();
            }
            Self::Insert { index, value } => list.insert((index as usize).min(list.len()), value),
            Self::Set { index, value } => {
                if let Some(slot) = list.get_mut(index as usize) {
                    *slot = value;
                }
            }
            Self::Remove { index } => {
                if (index as usize) < list.len() {
                    list.remove(index as usize);
                }
            }
            Self::Truncate { length } => list.truncate(length as usize),
        }
    }
}

/// Forwards a stream of SDK diff batches to a sink, mapping each value,
/// until the stream ends or the sink reports that its consumer is gone.
pub(crate) async fn forward<S, T>(
    stream: impl futures_util::Stream<Item = Vec<VectorDiff<S>>>,
    map: impl Fn(S) -> T,
    sink: &mut crate::subscription::Sink<Vec<ListDiff<T>>>,
) where
    S: Clone,
{
    use futures_util::StreamExt;
    futures_util::pin_mut!(stream);
    while let Some(diffs) = stream.next().await {
        let batch = diffs.into_iter().map(|d| ListDiff::from_vector_diff(d, &map)).collect();
        if !sink(batch) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eyeball_im::Vector;

    #[test]
    fn mirrors_every_vector_diff_and_applies_like_the_sdk() {
        let diffs = vec![
            VectorDiff::Reset { values: Vector::from(vec![1, 2]) },
            VectorDiff::PushBack { value: 3 },
            VectorDiff::PushFront { value: 0 },
            VectorDiff::Insert { index: 2, value: 9 },
            VectorDiff::Set { index: 2, value: 8 },
            VectorDiff::Remove { index: 1 },
            VectorDiff::Append { values: Vector::from(vec![4, 5]) },
            VectorDiff::PopFront,
            VectorDiff::PopBack,
            VectorDiff::Truncate { length: 3 },
        ];
        let mut ours = Vec::new();
        let mut theirs: Vector<i32> = Vector::new();
        for d in diffs {
            d.clone().apply(&mut theirs);
            ListDiff::from_vector_diff(d, |v| v).apply(&mut ours);
            assert_eq!(ours, theirs.iter().copied().collect::<Vec<_>>());
        }
        assert_eq!(ours, vec![8, 2, 3]);
        ListDiff::<i32>::Clear.apply(&mut ours);
        assert!(ours.is_empty());
    }

    #[test]
    fn serializes_with_an_op_tag() {
        let json = serde_json::to_value(ListDiff::Insert { index: 1, value: "x" }).unwrap();
        assert_eq!(json, serde_json::json!({"op": "insert", "index": 1, "value": "x"}));
    }
}
