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

/// The diffs that turn `old` into `new`, entries matched by `key`: `Remove`
/// for what went (from the back, so indexes hold), `Set` for what changed,
/// `PushBack` for what came. The order is `old`'s with newcomers at the end:
/// the UI sorts these lists itself. Empty when nothing changed.
pub fn keyed_diffs<T: Clone + PartialEq>(old: &[T], new: &[T], key: impl Fn(&T) -> &str) -> Vec<ListDiff<T>> {
    use std::collections::{HashMap, HashSet};
    let wanted: HashMap<&str, &T> = new.iter().map(|n| (key(n), n)).collect();
    let mut diffs = Vec::new();
    let mut kept: Vec<&T> = Vec::with_capacity(old.len());
    for o in old {
        if wanted.contains_key(key(o)) {
            kept.push(o);
        }
    }
    for (i, o) in old.iter().enumerate().rev() {
        if !wanted.contains_key(key(o)) {
            diffs.push(ListDiff::Remove { index: idx(i) });
        }
    }
    let mut seen = HashSet::with_capacity(kept.len());
    for (i, o) in kept.iter().enumerate() {
        seen.insert(key(o));
        if let Some(n) = wanted.get(key(o))
            && *n != *o
        {
            diffs.push(ListDiff::Set { index: idx(i), value: (*n).clone() });
        }
    }
    for n in new {
        if !seen.contains(key(n)) {
            diffs.push(ListDiff::PushBack { value: n.clone() });
        }
    }
    diffs
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
    fn keyed_diffs_turn_the_old_list_into_the_new_one() {
        let old = vec![("a", 1), ("b", 2), ("c", 3), ("d", 4)];
        let new = vec![("d", 4), ("e", 5), ("b", 20), ("f", 6)];
        let diffs = keyed_diffs(&old, &new, |(k, _)| k);
        let mut list = old.clone();
        for d in diffs.clone() {
            d.apply(&mut list);
        }
        let mut got = list.clone();
        got.sort_unstable();
        let mut want = new.clone();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(list, vec![("b", 20), ("d", 4), ("e", 5), ("f", 6)], "old order, newcomers last");
        assert_eq!(diffs.iter().filter(|d| matches!(d, ListDiff::Set { .. })).count(), 1, "only b changed");
        assert!(keyed_diffs(&new, &new, |(k, _)| k).is_empty(), "nothing changed, nothing sent");
    }

    #[test]
    fn keyed_diffs_keep_a_mirror_in_step_over_many_changes() {
        // What the stream does: the sender keeps the list as the receiver
        // will have it, and each batch's indexes are into that list.
        type Entry = (String, u32);
        let (mut sent, mut mirror) = (Vec::<Entry>::new(), Vec::<Entry>::new());
        let mut seed = 7_u32;
        for step in 0..200_u32 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let next: Vec<Entry> = (0..(seed % 9))
                .map(|i| (format!("k{}", (seed >> (i % 16)) % 12), (seed >> 3) % 3 + step % 2))
                .fold(Vec::new(), |mut acc: Vec<Entry>, e| {
                    if !acc.iter().any(|(k, _)| *k == e.0) {
                        acc.push(e);
                    }
                    acc
                });
            let diffs = keyed_diffs(&sent, &next, |(k, _)| k);
            for d in diffs.clone() {
                d.apply(&mut sent);
            }
            for d in diffs {
                d.apply(&mut mirror);
            }
            assert_eq!(mirror, sent);
            let (mut got, mut want) = (mirror.clone(), next.clone());
            got.sort();
            want.sort();
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn serializes_with_an_op_tag() {
        let json = serde_json::to_value(ListDiff::Insert { index: 1, value: "x" }).unwrap();
        assert_eq!(json, serde_json::json!({"op": "insert", "index": 1, "value": "x"}));
    }
}
