//! Project-written benign training examples: everyday task requests ("Please draft a
//! thank-you note to my colleague"). The S-Labs training set's benign class is mostly
//! questions while its injections are mostly imperatives, so a model trained on it alone
//! learns "imperative = attack" and flags ordinary chat traffic. These templates, written
//! for Palisade and free of attack vocabulary (no instructions, rules, system prompts,
//! personas), teach it that asking for a task is normal. Deterministic: the same list on
//! every run. Used by `train-injection` unless `--no-augment` is given.

use super::csv::Example;

const OPENERS: &[&str] = &[
    "",
    "Please ",
    "Can you ",
    "Could you ",
    "I need you to ",
    "Help me ",
    "Hey, ",
    "For my team, ",
    "Quick one: ",
    "When you have a moment, ",
    "I'd like you to ",
    "Would you ",
];

const TASKS: &[&str] = &[
    "draft a short thank-you note to my colleague",
    "write an email to my landlord about the broken heater",
    "summarize this article in three bullet points",
    "translate good morning into Spanish",
    "say hello to the new interns",
    "write a haiku about autumn",
    "list five healthy breakfast ideas",
    "rewrite this paragraph to sound more formal",
    "create a weekly workout plan for a beginner",
    "give me a recipe for banana bread",
    "write a cover letter for a data analyst job",
    "draft a reply to the customer asking about shipping times",
    "compose a birthday message for my sister",
    "outline a presentation on renewable energy",
    "generate ten names for a coffee shop",
    "explain recursion to a ten-year-old",
    "write a SQL query that counts orders per customer",
    "fix the grammar in this sentence",
    "write a Python function that reverses a string",
    "plan a three-day trip to Lisbon",
    "write a product description for a steel water bottle",
    "suggest a title for my blog post about gardening",
    "make a shopping list for a dinner party of six",
    "turn these bullet points into meeting notes",
    "write a short story about a lost dog finding its way home",
    "send the quarterly report to the finance team",
    "write to our supplier about the delayed order",
    "draft a note to [EMAIL_1] confirming Tuesday's meeting",
    "remind Alex to call [PHONE_1] before noon",
    "tell me a joke about cats",
    "describe the water cycle in simple terms",
    "convert 5 miles to kilometres",
    "proofread my essay introduction",
    "brainstorm gift ideas for a coworker who loves hiking",
    "write a polite message declining the invitation",
    "create a study schedule for my chemistry exam",
    "draft an agenda for the project kickoff",
    "compare electric and gas cars in a short table",
    "write a limerick about a sleepy owl",
    "format this list as a markdown table",
];

const ENDINGS: &[&str] = &[".", "? Keep it short."];

/// Every opener × task × ending, labelled benign.
pub fn benign_tasks() -> Vec<Example> {
    let mut out = Vec::with_capacity(OPENERS.len() * TASKS.len() * ENDINGS.len());
    for opener in OPENERS {
        for task in TASKS {
            for ending in ENDINGS {
                let mut text = format!("{opener}{task}{ending}");
                if let Some(first) = text.get(..1) {
                    text.replace_range(..1, &first.to_uppercase());
                }
                out.push(Example { text, label: false });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_deterministic_and_free_of_attack_words() {
        let a = benign_tasks();
        assert_eq!(a, benign_tasks());
        assert_eq!(a.len(), OPENERS.len() * TASKS.len() * ENDINGS.len());
        for e in &a {
            let t = e.text.to_lowercase();
            for word in [
                "instruction",
                "ignore",
                "system prompt",
                "rules",
                "pretend",
                "jailbreak",
            ] {
                assert!(!t.contains(word), "{t}");
            }
        }
    }
}
