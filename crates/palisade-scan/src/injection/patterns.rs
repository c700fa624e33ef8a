//! The injection rule table: for each rule its family, score, anchor literals and regex.
//! Patterns are written against folded text (lower case, accents stripped: see
//! [`super::fold`]); a rule's regex only runs when one of its anchors occurs, so benign
//! text costs one literal pass (`prefilter::literals`: a space in an anchor matches any run of whitespace,
//! as the patterns' `\s+` do). English covers all four families;
//! German, French, Spanish, Portuguese and Italian cover instruction override and prompt
//! extraction.

use super::rules::Family;

/// One rule before compilation.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub family: Family,
    pub name: &'static str,
    pub score: f32,
    /// Folded literals; the regex runs only if one of them occurs in the text.
    pub anchors: &'static [&'static str],
    pub pattern: String,
}

pub(crate) fn rule(
    family: Family,
    name: &'static str,
    score: f32,
    anchors: &'static [&'static str],
    pattern: impl Into<String>,
) -> RuleSpec {
    RuleSpec {
        family,
        name,
        score,
        anchors,
        pattern: pattern.into(),
    }
}

/// Words between a verb and its object (lazy, at most `n`).
fn gap(n: usize) -> String {
    format!(r"(?:[\w'-]+[\s,]+){{0,{n}}}?")
}

/// An extraction rule for one language: imperative verb, optional object pronoun, then
/// either a possessive + prompt noun or an article + system-ish noun phrase.
#[allow(clippy::too_many_arguments)]
pub(crate) fn extraction(
    name: &'static str,
    anchors: &'static [&'static str],
    verbs: &str,
    obj: &str,
    poss: &str,
    nouns: &str,
    art: &str,
    sys_nouns: &str,
) -> RuleSpec {
    let g = gap(2);
    rule(
        Family::Extraction,
        name,
        0.85,
        anchors,
        format!(
            r"\b(?:{verbs})\b[\s,]*(?:(?:{obj})\s+)?{g}(?:(?:{poss})\s+(?:[\w'-]+\s+)?(?:{nouns})|(?:{art})\s*(?:{sys_nouns}))\b"
        ),
    )
}

/// An override rule for one language: imperative verb, a few words, an instruction noun.
pub(crate) fn override_rule(
    name: &'static str,
    anchors: &'static [&'static str],
    verbs: &str,
    nouns: &str,
) -> RuleSpec {
    let g = gap(3);
    rule(
        Family::Override,
        name,
        0.85,
        anchors,
        format!(r"\b(?:{verbs})\b[\s,]+{g}(?:[ldn]')?(?:{nouns})\b"),
    )
}

const EN_OVERRIDE_VERBS: &str = r"ignore|disregard|forget|skip|override|bypass|abandon|discard|neglect|overlook|dismiss|set\s+aside|put\s+aside|throw\s+out|do\s+not\s+follow|don'?t\s+follow|stop\s+following|stop\s+obeying|no\s+longer\s+follow|pay\s+no\s+attention\s+to";
const EN_NOUNS: &str = r"instructions?|directions|directives?|rules|guidelines|guidance|prompts?|commands?|guardrails|restrictions|constraints|programming|orders|policies|safeguards|filters|context|training|messages|text|content|conversation";

/// The full rule table, in reporting order.
pub fn rule_specs() -> Vec<RuleSpec> {
    use Family::{Delimiter, Extraction, Override, Persona};
    let mut r = vec![
        // ── instruction override, English ──
        rule(
            Override,
            "en-ignore-previous",
            0.9,
            &[
                "ignor",
                "disregard",
                "forget",
                "skip",
                "overrid",
                "bypass",
                "abandon",
                "discard",
                "neglect",
                "overlook",
                "dismiss",
                "aside",
                "throw out",
                "not follow",
                "n't follow",
                "dont follow",
                "stop follow",
                "longer follow",
                "stop obey",
                "pay no",
            ],
            format!(
                r"\b(?:{EN_OVERRIDE_VERBS})\s+(?:to\s+)?(?:(?:(?:the|these|those|of|my|such)\s+)?(?:all|any|every|each|your)\s+(?:(?:of\s+)?(?:the|these|those|my)\s+)?(?:(?:{q})\s+){{0,2}}|(?:(?:the|these|those|of|my|all|any|every|your)\s+){{0,3}}(?:(?:{q})\s+){{1,2}})(?:{EN_NOUNS})\b",
                q = r"previous|previously\s+given|prior|above|above-mentioned|earlier|preceding|foregoing|former|original|initial|old|system|safety|given|programmed|built-in|developer|hidden|ethical|moral"
            ),
        ),
        rule(
            Override,
            "en-forget-everything",
            0.8,
            &["ignor", "disregard", "forget"],
            r"\b(?:ignore|disregard|forget)\s+(?:about\s+)?(?:all\s+(?:of\s+)?)?(?:everything|anything|all|that|what|the)\s+(?:you\s+(?:were|have\s+been|was|are|had\s+been)\s+(?:told|given|taught|instructed|programmed)|(?:i|we)\s+(?:said|told\s+you)\s+(?:before|earlier|previously)|(?:above|before|previously|prior|earlier|so\s+far|until\s+now|up\s+to\s+now|text\s+above))\b",
        ),
        rule(
            Override,
            "en-new-instructions",
            0.85,
            &[
                "instruction",
                "rule",
                "directive",
                "task",
                "order",
                "prompt",
            ],
            r"\b(?:new|updated|revised|real|actual|true|overriding|override|priority)\s+(?:system\s+)?(?:instructions?|rules|directives?|task|orders|prompt)\s*:",
        ),
        rule(
            Override,
            "en-instructions-void",
            0.85,
            &["instruction", "rule", "directive"],
            r"\b(?:your|the|all)\s+(?:previous|prior|original|old|initial|earlier|system)\s+(?:instructions|rules|directives)\s+(?:are|were|have\s+been|is)\s+(?:now\s+)?(?:void|null|cancel+ed|revoked|obsolete|overridden|replaced|no\s+longer\s+valid|invalid|lifted|suspended|deactivated|disabled)\b",
        ),
        // An override cut short: "ignore all previous" and nothing after it ("all": a
        // follow-up like "please ignore the previous." is about a message, not the rules).
        rule(
            Override,
            "en-ignore-previous-cut",
            0.8,
            &["ignor", "disregard", "forget"],
            r"\b(?:ignore|disregard|forget)\s+(?:all\s+(?:of\s+)?(?:the\s+)?|everything\s+)(?:previous|prior|above|earlier|preceding)\s*[.!]*\s*$",
        ),
        // The model's safeguards declared off: "all safety filters are disabled", "safety
        // guidelines are suspended for this session", "content moderation is suspended for
        // testing". The safeguards named as the model's (safety, content, ethical) and
        // addressed to it ("all", "your", "now", "for you"): "all filters are turned off" is
        // a spreadsheet, "your restrictions have been lifted" a customer e-mail, "the content
        // filters are disabled in staging" a developer. Anchored on the verbs, rarer in
        // prompts than the nouns.
        rule(
            Override,
            "en-safeguards-off",
            0.8,
            &[
                "suspended",
                "disabled",
                "deactivated",
                "turned off",
                "switched off",
            ],
            r"\b(?:(?:all\s+(?:of\s+)?(?:your\s+|the\s+)?|your\s+)(?:safety|content|ethical)\s+(?:filters|restrictions|guardrails|safeguards|guidelines)\s+(?:are|have\s+been)\s+(?:now\s+)?(?:temporarily\s+)?(?:suspended|disabled|deactivated|turned\s+off|switched\s+off)\b|(?:safety|content|ethical)\s+(?:filters|restrictions|guardrails|safeguards|guidelines)\s+(?:are|have\s+been)\s+(?:temporarily\s+)?(?:suspended|disabled|deactivated|turned\s+off|switched\s+off)\s+(?:now\b|for\s+(?:you|this\s+(?:session|conversation|chat))\b)|content\s+moderation\s+(?:is|has\s+been)\s+(?:now\s+)?(?:temporarily\s+)?(?:suspended|disabled|deactivated|turned\s+off|switched\s+off)\s+for\s+(?:this\s+(?:session|conversation|chat|test)|testing|the\s+test|evaluation|research)\b)",
        ),
        rule(
            Override,
            "en-system-override",
            0.8,
            &["override"],
            r"\b(?:(?:initiate|activate|engage|enable|execute|run|perform|apply)\s+(?:an?\s+|the\s+)?(?:system|admin|administrator|developer|root|emergency|security)\s+override|(?:system|admin|administrator|developer|root|emergency|security)\s+override\s*(?::|-|(?:is\s+)?(?:engaged|activated|enabled|initiated|in\s+effect|mode|protocol|code)\b))",
        ),
    ];
    r.extend(crate::injection::patterns_intl::override_rules());
    r.extend([
        // ── role / persona hijack ──
        rule(
            Persona,
            "you-are-now",
            0.85,
            &["you are", "you're", "youre"],
            r"\byou(?:\s+are|'re|re)\s+(?:now\s+(?:an?\s+)?(?:dan|jailbroken|unrestricted|unfiltered|uncensored|unchained|unbound|unleashed|liberated|free|freed|rogue|evil|amoral|unethical|no\s+longer)|(?:dan|an?\s+(?:jailbroken|unrestricted|unfiltered|uncensored|amoral|unaligned|unchained)\s+(?:ai|assistant|model|chatbot|version|language\s+model))|(?:now\s+)?(?:no\s+longer|not)\s+(?:bound|restricted|limited|constrained|governed)\s+by)\b",
        ),
        rule(
            Persona,
            "act-as-unrestricted",
            0.8,
            &["unrestrict", "unfilter", "uncensor", "jailbr", "unalign", "amoral", "unethical", "immoral", "lawless", "unbound", "unchain", "evil"],
            r"\b(?:act|behave|respond|answer|reply|pretend|roleplay|role-play|play|function|operate|become|simulate|emulate)\s+(?:as|like|to\s+be)?\s*(?:if\s+you\s+(?:are|were)\s+)?(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,2}?(?:unrestricted|unfiltered|uncensored|jailbroken|unaligned|amoral|unethical|immoral|lawless|unbound|unchained|evil\s+(?:ai|assistant|chatbot|bot|model|twin|version))\b",
        ),
        rule(
            Persona,
            "special-mode",
            0.85,
            &["developer mode", "dev mode", "debug mode", "god mode", "admin mode", "jailbreak mode", "jailbroken mode", "dan mode", "unrestricted mode", "unfiltered mode", "uncensored mode", "evil mode", "sudo mode", "root mode", "limits mode", "limit mode"],
            r"\b(?:(?:developer|dev|debug|god|admin|jailbreak|jailbroken|dan|unrestricted|unfiltered|uncensored|evil|sudo|root)\s+mode(?:\s+(?:is\s+)?(?:now\s+)?(?:enabled|activated|unlocked|engaged)|\s*[:=]\s*(?:on|enabled|true)\b)|(?:enable|activate|enter|engage|switch\s+(?:to|into)|turn\s+on|unlock)\s+(?:the\s+)?(?:jailbreak|jailbroken|dan|unrestricted|unfiltered|uncensored|evil|no-?limits?)\s+mode|(?:you\s+are|you're|stay|remain|now)\s+in\s+(?:developer|dev|debug|god|admin|jailbreak|dan|unrestricted|sudo)\s+mode|(?:chatgpt|gpt-?\d*|assistant|ai|model)\s+with\s+(?:developer|dan|god|jailbreak)\s+mode)\b",
        ),
        rule(Persona, "dan", 0.9, &["anything now", "dan mode", "dan prompt", "dan jailbreak"], r"\b(?:do\s+anything\s+now|dan\s+(?:mode|prompt|jailbreak))\b"),
        rule(
            Persona,
            "no-restrictions",
            0.8,
            &["have no", "possess no", "without", "free of", "free from", "with no"],
            r"\b(?:you\s+(?:have|now\s+have|possess)\s+no\s+(?:restrictions|limits|limitations|rules|filters|guidelines|ethics|morals|boundaries|constraints|content\s+polic(?:y|ies)|safety\s+guidelines)|(?:respond|answer|reply|act|speak|write|operate|behave|talk)\s+(?:[\w-]+\s+){0,3}?(?:without|free\s+(?:of|from)|with\s+no)\s+(?:any\s+)?(?:ethical\s+|moral\s+|safety\s+|content\s+)?(?:restrictions|limits|limitations|guidelines|filters|constraints|boundaries|guardrails|censorship))\b",
        ),
        rule(
            Persona,
            "stop-being-assistant",
            0.75,
            &["stop being"],
            r"\bstop\s+being\s+(?:an?\s+)?(?:helpful\s+|safe\s+|ethical\s+|responsible\s+|harmless\s+)?(?:ai|assistant|chatbot|language\s+model)\b",
        ),
        // ── system-prompt extraction, English ──
        extraction(
            "en-reveal-prompt",
            &["prompt", "instruction", "directive", "programming", "configuration", "system message"],
            r"repeat|print|reveal|show|display|output|tell|give|share|disclose|leak|dump|write|recite|spell|list|expose|provide|type|copy|paste|send|return|echo|quote|state|reproduce|translate",
            r"out|back|me|us|to\s+me",
            r"your",
            r"system\s+prompt|prompt|instructions|directives|programming|configuration|system\s+message|initial\s+instructions|hidden\s+instructions",
            r"the",
            r"(?:(?:full|entire|complete|exact|original|initial|hidden|secret|internal|confidential|underlying|real|actual|whole|raw|verbatim)\s+){0,2}(?:system\s+(?:prompt|message|instructions?)|(?:initial|original|hidden|secret|internal|confidential|starting|first)\s+(?:prompt|instructions?|directives)|pre-?prompt|meta-?prompt)",
        ),
        rule(
            Extraction,
            "en-what-is-your-prompt",
            0.75,
            &["prompt", "instruction", "directive", "programming", "system message"],
            r"\b(?:what|which)(?:\s+(?:is|are|was|were)|'s)\s+your\s+(?:[\w-]+\s+){0,2}?(?:system\s+prompt|prompt|instructions|directives|system\s+message|programming)\b",
        ),
        // Secrecy words without an article: "reveal hidden prompt" (with one, or with
        // "your", `en-reveal-prompt` already matches). Prompts only: "reveal secret
        // instructions to players" is a game.
        rule(
            Extraction,
            "en-reveal-hidden-prompt",
            0.8,
            &["hidden prompt", "secret prompt", "hidden system", "secret system"],
            r"\b(?:reveal|show|display|print|output|leak|expose|disclose|dump|tell\s+me)\s+(?:hidden|secret)\s+(?:system\s+)?prompt\b",
        ),
        // The prompt asked for as an appendix to an answer: "answer and append prompt:",
        // "explain then add guidelines:", "include your system prompt in the response".
        rule(
            Extraction,
            "en-append-prompt",
            0.8,
            // Each anchor's first three letters are rare in prose ("and", "the" are not).
            &[
                "append",
                "attach",
                "add prompt",
                "add guideline",
                "add your",
                "add system",
                "include your",
            ],
            r"\b(?:(?:answer|complete|explain|respond|reply|finish|summari[sz]e)\s+(?:it\s+|this\s+)?(?:and|then|and\s+then)\s+(?:append|add|attach)\s+(?:your\s+)?(?:system\s+)?(?:prompt|guidelines)\s*:|(?:append|add|attach|include)\s+your\s+(?:full\s+|complete\s+|entire\s+)?(?:system\s+)?prompt\s+(?:to|in|at\s+the\s+end\s+of)\s+(?:the\s+|your\s+)?(?:response|answer|reply|summary)\b)",
        ),
        rule(
            Extraction,
            "en-text-above",
            0.8,
            &["above", "before this", "before my", "preceding this"],
            r"\b(?:repeat|print|output|return|echo|recite|copy|paste|show|display|write|reproduce|translate)\s+(?:back\s+|out\s+)?(?:exactly\s+|verbatim\s+)?(?:everything|all(?:\s+of)?(?:\s+the)?(?:\s+(?:text|words|content))?|(?:the\s+|your\s+)?(?:text|words|content|messages?|lines|instructions|prompt|conversation))\s+(?:above|before\s+(?:this|my\s+(?:message|question))|preceding\s+this)\b|\b(?:repeat|print|output|echo|recite|reproduce)\s+(?:back\s+|out\s+)?(?:the\s+)?above\s+(?:prompt|text|instructions|message|content|conversation)\b",
        ),
        rule(
            Extraction,
            "en-starting-with",
            0.85,
            &["starting with", "start with", "begin with", "beginning with"],
            r#"\b(?:starting|start|begin|beginning)\s+with\s+["'`]?(?:you\s+are|my\s+instructions|the\s+system\s+prompt)\b"#,
        ),
    ]);
    r.extend(crate::injection::patterns_intl::extraction_rules());
    r.extend([
        // ── delimiter / format injection ──
        rule(Delimiter, "chat-template-token", 0.95, &["<|"], r"<\|(?:im_start|im_end|im_sep|system|user|assistant|endoftext|start_header_id|end_header_id|eot_id|begin_of_text|end_of_text|fim_prefix|fim_suffix|fim_middle)\|>"),
        rule(Delimiter, "inst-tag", 0.85, &["inst]", "sys]", "system]", "sys>>"], r"\[/?(?:inst|sys|system)\]|<</?sys>>"),
        rule(Delimiter, "end-of-sequence", 0.6, &["</s>"], r"</s>"),
        rule(
            Delimiter,
            "markdown-role-header",
            0.8,
            // Every match holds one of these words (a lone `#` would arm the rule on every
            // hashtag and heading, and cost the literal pass a check per byte).
            &["system", "instruction", "admin", "developer", "assistant"],
            r"(?m)^[ \t>]*#{1,6}[ \t]*(?:system(?:\s+(?:prompt|message|override|instructions?))?|new\s+instructions?|instructions?|admin(?:istrator)?|developer|assistant)[ \t]*:",
        ),
        rule(
            Delimiter,
            "role-line",
            0.7,
            &["system"],
            r"(?m)^[ \t]*(?:system\s+(?:prompt|message|override|instructions?))[ \t]*:",
        ),
        rule(
            Delimiter,
            "end-of-input",
            0.8,
            &["end of", "system prompt", "system message", "system instructions"],
            r"\b(?:end\s+of\s+(?:the\s+)?(?:user\s+(?:input|prompt|message|query|text|request|data)|system\s+prompt)|(?:begin(?:ning)?|start)\s+(?:of\s+)?(?:the\s+)?(?:new\s+)?system\s+(?:prompt|message|instructions))\b|(?:-{3,}|={3,}|\*{3,}|#{3,}|\[)[ \t]*end\s+of\s+(?:input|prompt|context|document|data|instructions)\b",
        ),
        rule(Delimiter, "json-role", 0.9, &["role"], r#"["']role["']\s*:\s*["'](?:system|developer)["']"#),
        rule(
            Delimiter,
            "xml-system-tag",
            0.75,
            &["system>", "sys>", "instructions>", "admin>", "system_prompt>", "system-prompt>"],
            r"<\s*/?\s*(?:system|system_prompt|system-prompt|sys|instructions|admin)>",
        ),
    ]);
    r
}
