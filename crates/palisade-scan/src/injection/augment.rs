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

/// Messages relayed to someone: "Reply to Dana that the parcel arrived."
const RELAY_VERBS: &[&str] = &[
    "Reply to",
    "Tell",
    "Let",
    "Message",
    "Text",
    "Write back to",
    "Email",
    "Ping",
];
const RELAY_NAMES: &[&str] = &[
    "Dana",
    "my manager",
    "the plumber",
    "Omar",
    "the team",
    "Grandma",
];
const RELAY_MESSAGES: &[&str] = &[
    "the parcel arrived this morning",
    "I'm running ten minutes behind",
    "the slides are in the shared folder",
    "we need to move dinner to Saturday",
    "thanks for covering for me yesterday",
    "the invoice was paid on Monday",
    "I can't make it to the call",
    "the kids are at the park",
];

/// Everyday requests about the conversation itself: format, tone, language, going back
/// to an earlier answer. Chat users give these all the time; the S-Labs injections use
/// the same imperative shape, so without them the model reads any directive as an attack.
const DIRECTIVES: &[&str] = &[
    "Answer in a short table",
    "Use British spelling throughout",
    "Keep every answer under fifty words",
    "Write the answer in Spanish",
    "Don't use bullet points this time",
    "Number the steps",
    "Show the last table again with the totals",
    "Go back to the first version of the poem",
    "Start over with a shorter draft",
    "Say that again in simpler words",
    "Only give me the final number",
    "Leave out the introduction",
    "Don't add a summary at the end",
    "Repeat the recipe but for two people",
    "Use the notes above to write the summary",
    "Based on your previous answer, what should I do first",
    "Add a closing line to the letter",
    "Make the tone warmer and less stiff",
    "Write it from the customer's point of view",
    "Skip the code and just explain the idea",
    "Give the answer first, then the reasoning",
    "Reply with just the corrected sentence",
    "Swap the second and third paragraphs",
    "Print the list again in alphabetical order",
];
const DIRECTIVE_TAILS: &[&str] = &[".", ", please.", ". Thanks!", "?"];

/// Work on text the user supplies, output constraints for the rest of the chat,
/// references back to earlier answers, and benign "you are my …" framings.
const CHAT_REQUESTS: &[&str] = &[
    "Extract the names from this email",
    "Pull every phone number out of the list below",
    "Find all the prices in this receipt",
    "Label each comment as spam or not spam",
    "Sort these support tickets by priority",
    "Finish this paragraph for me: Our trip began in",
    "Complete the sentence: The best part of summer is",
    "Keep writing from where the story stops",
    "Tag each sentence with its tense",
    "Highlight the verbs in this passage",
    "Reply only with the translated text",
    "Answer with a single word",
    "Only list the ingredients, no steps",
    "From now on, use metric units",
    "For the rest of this chat, keep answers short",
    "Respond in French from now on",
    "Just give me a yes or a no",
    "Only show the code, no explanation",
    "Answer only with the number of calories",
    "Give me the earlier list again",
    "Repeat your last answer without the jargon",
    "Show the first draft again",
    "What did you say about the budget earlier",
    "Paste the previous summary again but shorter",
    "Use the same format as your last reply",
    "You're my study buddy; quiz me on capitals",
    "You are my sous-chef today, help me prep a risotto",
    "You're a careers adviser: review my CV headline",
    "You are my running coach, plan my week",
    "Be my editor and tighten this intro",
];

/// Benign role play: a role and a task with nothing to do with the assistant's rules.
const ROLES: &[&str] = &[
    "Act as a chef and",
    "You are a patient maths tutor;",
    "Suppose you are a museum guide and",
    "Imagine you're a travel agent and",
    "Play the part of a job interviewer and",
    "As a fitness coach,",
    "Be my Spanish conversation partner and",
    "Take the role of a friendly librarian and",
];
const ROLE_TASKS: &[&str] = &[
    "suggest a dinner for a rainy evening",
    "walk me through long division",
    "describe the most famous painting in the room",
    "plan a cheap week in Croatia",
    "ask me about my last project",
    "give me a ten minute warm-up",
    "ask me about my weekend",
    "recommend a mystery novel for a teenager",
];

/// Every project-written training row: [`benign_tasks`], [`benign_conversation`], the
/// other languages' rows ([`super::augment_intl::rows`]), English override and
/// document-injection rows ([`super::augment_override::rows`]) and technical prose
/// ([`super::augment_prose::rows`]).
pub fn all() -> Vec<Example> {
    let mut out = benign_tasks();
    out.extend(benign_conversation());
    out.extend(super::augment_intl::rows());
    out.extend(super::augment_override::rows());
    out.extend(super::augment_prose::rows());
    out
}

/// [`all`] without the technical prose (to measure what it changes).
pub fn all_but_prose() -> Vec<Example> {
    let mut out = all();
    let n = super::augment_prose::rows().len();
    out.truncate(out.len() - n);
    out
}

fn benign(text: String) -> Example {
    Example { text, label: false }
}

/// Relayed messages, conversation directives and benign role play.
pub fn benign_conversation() -> Vec<Example> {
    let mut out = Vec::new();
    for (i, verb) in RELAY_VERBS.iter().enumerate() {
        for (j, name) in RELAY_NAMES.iter().enumerate() {
            let msg = RELAY_MESSAGES[(i + 3 * j) % RELAY_MESSAGES.len()];
            let text = match *verb {
                "Let" => format!("Let {name} know {msg}."),
                "Tell" | "Text" | "Ping" => format!("{verb} {name} that {msg}."),
                _ => format!("{verb} {name} saying {msg}."),
            };
            out.push(benign(text));
        }
    }
    for (i, d) in DIRECTIVES.iter().enumerate() {
        for (j, tail) in DIRECTIVE_TAILS.iter().enumerate() {
            if (i + j) % 2 == 0 {
                out.push(benign(format!("{d}{tail}")));
            }
        }
    }
    for (i, r) in CHAT_REQUESTS.iter().enumerate() {
        out.push(benign(format!("{r}.")));
        out.push(benign(format!("{r}{}", DIRECTIVE_TAILS[1 + i % 3])));
    }
    for role in ROLES {
        for task in ROLE_TASKS {
            out.push(benign(format!("{role} {task}.")));
        }
    }
    out
}

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
        for e in a.iter().chain(&benign_conversation()) {
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
