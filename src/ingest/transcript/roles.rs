//! Speaker labels to roles: customer, agent or other.
//!
//! Contract:
//! - A label is looked up case-insensitively, first whole (`klant`), then by its first word (`Agent Sanne`,
//!   `Klant (Jan)`, `Medewerker-2`). Built-in labels: customer for Klant / Customer / Kunde / Client / Caller /
//!   Beller / Appelant / User / Visitor / Bezoeker; agent for Agent / Medewerker / Operator / Bot / Assistant /
//!   Chatbot / Support / Mitarbeiter / Conseiller / Employee / Representative; other for System / Systeem /
//!   IVR. `TranscriptOptions::speaker_roles` adds labels and overrides these.
//! - Unknown labels (names, `SPEAKER_00` from diarisation) are resolved per conversation, so that the customer
//!   is the speaker who is not the agent: when the conversation has a known agent and no known customer, every
//!   unknown speaker is the customer; when it has a known customer and no known agent, every unknown speaker is
//!   an agent; when it has neither, the first speaker is taken as the agent (the organisation answers the call
//!   or opens the chat) and every other as the customer; when it has both, unknown speakers are `other`.
//! - A turn without a label continues the previous turn's speaker; before any label the speaker is empty and
//!   the role `other`.

use std::collections::HashMap;

use super::{RawTurn, Turn};
use crate::schema;

/// Who spoke, seen from the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Customer,
    Agent,
    Other,
}

impl Role {
    /// The value written to `turns.role` (one of `schema::ROLES`).
    pub fn as_str(self) -> &'static str {
        let [customer, agent, other] = schema::ROLES;
        match self {
            Role::Customer => customer,
            Role::Agent => agent,
            Role::Other => other,
        }
    }
}

const CUSTOMER_LABELS: [&str; 11] = [
    "klant", "customer", "kunde", "client", "cliënt", "caller", "beller", "appelant", "user",
    "visitor", "bezoeker",
];
const AGENT_LABELS: [&str; 12] = [
    "agent",
    "medewerker",
    "operator",
    "bot",
    "assistant",
    "chatbot",
    "support",
    "mitarbeiter",
    "conseiller",
    "employee",
    "representative",
    "rep",
];
const OTHER_LABELS: [&str; 3] = ["system", "systeem", "ivr"];

/// Generic diarisation labels: `Speaker 1`, `SPEAKER_00`, `Spreker 2`. They name a speaker without a role.
const GENERIC_SPEAKERS: [&str; 4] = ["speaker", "spreker", "sprecher", "locuteur"];

/// The label -> role table of one run.
pub(crate) struct RoleMap {
    labels: HashMap<String, Role>,
}

impl RoleMap {
    pub fn new(overrides: &HashMap<String, Role>) -> RoleMap {
        let mut labels = HashMap::new();
        for (list, role) in [
            (&CUSTOMER_LABELS[..], Role::Customer),
            (&AGENT_LABELS[..], Role::Agent),
            (&OTHER_LABELS[..], Role::Other),
        ] {
            labels.extend(list.iter().map(|label| (label.to_string(), role)));
        }
        labels.extend(
            overrides
                .iter()
                .map(|(label, role)| (label.trim().to_lowercase(), *role)),
        );
        RoleMap { labels }
    }

    /// The role of a label, when the label itself says it.
    pub fn lookup(&self, label: &str) -> Option<Role> {
        let label = label.trim().to_lowercase();
        if let Some(role) = self.labels.get(&label) {
            return Some(*role);
        }
        self.labels.get(first_word(&label)).copied()
    }

    /// Whether `label` reads as a speaker label (known, or a generic `Speaker 1`): used by the text formats to
    /// tell `Agent: ...` from a sentence that happens to contain a colon.
    pub fn is_speaker_label(&self, label: &str) -> bool {
        if self.lookup(label).is_some() {
            return true;
        }
        let label = label.trim().to_lowercase();
        let rest = GENERIC_SPEAKERS
            .iter()
            .find_map(|generic| label.strip_prefix(generic));
        rest.is_some_and(|rest| {
            let number = rest.trim_start_matches([' ', '_', '-']);
            !number.is_empty() && number.len() <= 3 && number.chars().all(|c| c.is_alphanumeric())
        })
    }

    /// Resolves every turn's speaker and role; see the module contract.
    pub fn resolve(&self, raw: &[RawTurn]) -> Vec<Turn> {
        let mut speaker = String::new();
        let speakers: Vec<String> = raw
            .iter()
            .map(|turn| {
                if let Some(label) = &turn.speaker {
                    speaker = label.trim().to_string();
                }
                speaker.clone()
            })
            .collect();
        let known: Vec<Option<Role>> = speakers
            .iter()
            .map(|s| {
                if s.is_empty() {
                    Some(Role::Other)
                } else {
                    self.lookup(s)
                }
            })
            .collect();
        let has = |role| known.contains(&Some(role));
        let first_speaker = speakers.iter().find(|s| !s.is_empty());
        let unknown_role = |speaker: &String| match (has(Role::Agent), has(Role::Customer)) {
            (true, false) => Role::Customer,
            (false, true) => Role::Agent,
            (true, true) => Role::Other,
            (false, false) if Some(speaker) == first_speaker => Role::Agent,
            (false, false) => Role::Customer,
        };
        raw.iter()
            .zip(speakers.iter().zip(&known))
            .map(|(turn, (speaker, role))| Turn {
                speaker: speaker.clone(),
                role: role.unwrap_or_else(|| unknown_role(speaker)),
                start_seconds: turn.start,
                end_seconds: turn.end,
                text: turn.text.clone(),
            })
            .collect()
    }
}

fn first_word(label: &str) -> &str {
    label
        .split(|c: char| !c.is_alphanumeric())
        .find(|word| !word.is_empty())
        .unwrap_or(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(speaker: Option<&str>, text: &str) -> RawTurn {
        RawTurn {
            speaker: speaker.map(str::to_string),
            start: None,
            end: None,
            text: text.to_string(),
        }
    }

    fn roles_of(turns: &[RawTurn]) -> Vec<(String, Role)> {
        RoleMap::new(&HashMap::new())
            .resolve(turns)
            .into_iter()
            .map(|t| (t.speaker, t.role))
            .collect()
    }

    #[test]
    fn labels_match_whole_or_by_first_word() {
        let map = RoleMap::new(&HashMap::from([("jan".to_string(), Role::Agent)]));
        assert_eq!(map.lookup("Klant"), Some(Role::Customer));
        assert_eq!(map.lookup("Agent Sanne"), Some(Role::Agent));
        assert_eq!(map.lookup("Medewerker-2"), Some(Role::Agent));
        assert_eq!(map.lookup("JAN"), Some(Role::Agent));
        assert_eq!(map.lookup("Piet"), None);
        assert!(map.is_speaker_label("SPEAKER_00"));
        assert!(map.is_speaker_label("Spreker 2"));
        assert!(!map.is_speaker_label("Ik bel over"));
    }

    #[test]
    fn unknown_speakers_are_whoever_is_not_the_agent() {
        let with_agent = roles_of(&[
            turn(Some("Agent"), "Goedemiddag"),
            turn(Some("Piet"), "Hoi"),
        ]);
        assert_eq!(with_agent[1].1, Role::Customer);
        let diarised = roles_of(&[
            turn(Some("SPEAKER_01"), "Goedemiddag"),
            turn(Some("SPEAKER_00"), "Hoi"),
            turn(None, "nog iets"),
        ]);
        let roles: Vec<Role> = diarised.iter().map(|(_, r)| *r).collect();
        assert_eq!(roles, [Role::Agent, Role::Customer, Role::Customer]);
        assert_eq!(diarised[2].0, "SPEAKER_00");
        let with_customer = roles_of(&[turn(Some("Klant"), "Hoi"), turn(Some("Sanne"), "Dag")]);
        assert_eq!(with_customer[1].1, Role::Agent);
        let unlabelled = roles_of(&[turn(None, "Gesprek 12")]);
        assert_eq!(unlabelled[0], (String::new(), Role::Other));
    }
}
