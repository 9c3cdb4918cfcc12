//! Threading messages into conversations by Message-ID, In-Reply-To and References.
//!
//! Contract: two messages are in the same conversation when one names the other as parent, or both name the
//! same message (even one that is not in the run, such as a reply to mail that was never exported). The
//! `conversation_id` of a conversation is the `id` of its earliest message (by timestamp, messages without
//! one last, then input order), so it is always the id of a row in the same run.
//!
//! Threading needs every message of the run before it can name a conversation; that is why e-mail ingest
//! reads all messages first. E-mail volumes make that affordable. Ids are compared exactly.

use std::collections::HashMap;

/// What threading needs to know about one message.
pub(crate) struct ThreadKeys<'a> {
    /// The row's `id` (the Message-ID, or the generated id when there is none).
    pub id: &'a str,
    pub message_id: Option<&'a str>,
    pub parents: Vec<&'a str>,
    pub timestamp: Option<i64>,
}

/// One conversation id per message, in input order.
pub(crate) fn conversation_ids(messages: &[ThreadKeys]) -> Vec<String> {
    let mut nodes = Nodes::default();
    let message_nodes: Vec<usize> = messages
        .iter()
        .map(|message| {
            let own = match message.message_id {
                Some(message_id) => nodes.named(message_id),
                None => nodes.anonymous(),
            };
            for parent in &message.parents {
                let parent = nodes.named(parent);
                nodes.union(own, parent);
            }
            own
        })
        .collect();

    // The earliest message of each conversation, found in one pass over messages sorted by time.
    let mut order: Vec<usize> = (0..messages.len()).collect();
    order.sort_by_key(|&i| {
        let timestamp = messages.get(i).and_then(|m| m.timestamp);
        (timestamp.is_none(), timestamp, i)
    });
    let mut root_id: HashMap<usize, &str> = HashMap::new();
    for &index in &order {
        let (Some(&node), Some(message)) = (message_nodes.get(index), messages.get(index)) else {
            continue;
        };
        root_id.entry(nodes.find(node)).or_insert(message.id);
    }
    message_nodes
        .iter()
        .map(|&node| {
            root_id
                .get(&nodes.find(node))
                .map(|id| id.to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// Union-find over message ids.
#[derive(Default)]
struct Nodes<'a> {
    parent: Vec<usize>,
    by_id: HashMap<&'a str, usize>,
}

impl<'a> Nodes<'a> {
    fn anonymous(&mut self) -> usize {
        self.parent.push(self.parent.len());
        self.parent.len() - 1
    }

    fn named(&mut self, id: &'a str) -> usize {
        if let Some(&node) = self.by_id.get(id) {
            return node;
        }
        let node = self.anonymous();
        self.by_id.insert(id, node);
        node
    }

    fn find(&mut self, node: usize) -> usize {
        let mut root = node;
        while let Some(&up) = self.parent.get(root) {
            if up == root {
                break;
            }
            root = up;
        }
        // Path compression keeps later lookups short on long reply chains.
        let mut current = node;
        while current != root {
            let Some(slot) = self.parent.get_mut(current) else {
                break;
            };
            current = std::mem::replace(slot, root);
        }
        root
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if let Some(slot) = self.parent.get_mut(a.max(b)) {
            *slot = a.min(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(id: &'a str, parents: Vec<&'a str>, timestamp: i64) -> ThreadKeys<'a> {
        ThreadKeys {
            id,
            message_id: Some(id),
            parents,
            timestamp: Some(timestamp),
        }
    }

    #[test]
    fn replies_join_their_parent_and_siblings_via_a_missing_root() {
        let messages = vec![
            keys("b", vec!["a"], 20),
            keys("c", vec!["a", "b"], 30),
            keys("x", vec![], 5),
            keys("d", vec!["missing"], 40),
            keys("e", vec!["missing"], 35),
        ];
        assert_eq!(conversation_ids(&messages), ["b", "b", "x", "e", "e"]);
    }
}
