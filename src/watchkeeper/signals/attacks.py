"""Jailbreak attempts and prompt injections in user input, and instructions planted in tool and MCP results.

Each attack family is a small set of patterns with a weight; a text's score is ``1 - Π(1 - wᵢ)`` over the families
that fired, and a label is given at score ≥ 0.5. Families (``evidence`` of a label):

jailbreak: ``persona`` (DAN, developer mode, "no restrictions"), ``refusal_suppression``, ``prefix_injection``,
``obfuscation`` (base64, hex, rot13, leetspeak, Unicode tricks), ``adversarial_suffix``, ``many_shot``,
``repeated_token``.
prompt_injection: ``instruction_override``, ``system_prompt_extraction`` (and asking for the secrets a system prompt
guards), ``payload_splitting``, ``fake_system``.
indirect_injection (tool results): ``instruction_override``, ``addressed_to_ai``, ``hidden_instruction``,
``exfiltration``.

Patterns cover English, German, French, Spanish, Portuguese, Italian, Dutch, Russian, Japanese, Chinese and Korean for
the families whose wording matters (override, extraction, persona, refusal suppression).
"""

# Pattern tables read best one alternative group per line, even where one runs past the line limit.
# ruff: noqa: E501

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from . import _lexicon, _linear
from ._deobfuscate import decoded_layers, normalise, unicode_tricks
from ._model import Label, unknown
from ._prefilter import Prefilter
from ._text import check_text, clip

VERSION = "attacks-10"
THRESHOLD = 0.5


def _rx(*parts: str) -> re.Pattern[str]:
    # Matched on lowercased text: Python's re is several times slower with IGNORECASE.
    return re.compile("|".join(f"(?:{p})" for p in parts))


# The few patterns where case carries meaning (a "DAN" persona, "BasedGPT", "APOPHIS Mode").
_CASED = re.compile(r"\bDAN\b|\b(?!Chat)[A-Za-z]+GPT\b|\b[A-Z]{3,}\s+Mode\b")


# A developer or debug mode, or a jailbreak, of a device or program ("developer mode on my Android phone", "jailbreak
# an iPhone") is ordinary tech support, not a persona. (Not a god or evil mode: those stay what they were.)
_NOT_DEVICE = (
    r"(?!\s+(?:on|in|for|of|an?|my|the|your|this)\s+(?:(?:my|the|your|an?|this|old|new)\s+)?(?:android|iphone|ipad|ios|"
    r"phone|smartphone|chrome|chromebook|firefox|browser|windows|mac|macbook|pc|laptop|computer|device|tablet|tv|xbox|"
    r"playstation|ps[345]|switch|kindle|fire ?stick|router|car|camera|printer|apps?|extension|bios|console|settings|"
    r"python|flask|django|node|ide|vs ?code|visual studio|xcode|unity)\b)"
)

_PRIOR = r"(?:all |any |the |your |my |these |those |every |of )*(?:previous|prior|preceding|above|earlier|former|initial|original|old|system|existing|current|given|default)?"
_RULES = (
    r"(?:instructions?|directives?|directions?|rules|guidelines|prompts?|commands?|orders|programming|training|"
    r"constraints|restrictions|policies|policy|context|messages?|conversation|everything|anything)"
)

_OVERRIDE = _rx(
    rf"\b(?:ignore|disregard|forget|override|bypass|skip|abandon|drop|discard|neglect|set aside|pay no attention to)"
    rf"\s+{_PRIOR}\s*{_RULES}",
    # (Not "ignore what I said": users take back their own words.)
    r"\b(?:ignore|disregard|forget) (?:everything|all|what) (?:you(?:'ve| have)? (?:been|were) told"
    r"|above|before|that came before)",
    r"\b(?:ignore|disregard) (?:the |this |that |all |any |your )?(?:\w+ ){0,2}and (?:instead )?(?:state|say|claim|declare|output|print|respond with|reply with|write that)\b",
    r"\bignore the above\b",
    r"\b(?:new|updated|revised|real) (?:instructions?|rules|task|directives?)\s*[:\-]",
    # A claim planted in a document the model is asked to read: "let's state that the conclusion of the paper is: …".
    r"\blet(?:'s| us) (?:now )?(?:state|claim|declare|assert) that\b",
    r"\bwe (?:might|should|will|must) (?:now )?(?:state|claim|declare|assert) (?:that )?the \w+(?: of [\w' ]{1,40})? (?:is|are)\b",
    r"\byour (?:new|real|true) (?:instructions?|task|purpose|goal) (?:is|are)\b",
    r"\bfrom now on,? (?:you|ignore|only|always|do not|don't)\b",
    r"\b(?:stop|quit|cease) (?:following|obeying|adhering to) (?:your |the |all |any |these |those |of )*(?:\w+ )?(?:rules|guidelines|instructions|policies|restrictions|programming)",
    r"\b(?:disable|turn off|deactivate|switch off|remove|lift) (?:all |any )?(?:your|its) (?:\w+ )?(?:rules|filters?|guidelines|restrictions|guardrails|safeguards|protocols|limitations)\b",
    r"\b(?:disable|turn off|deactivate|switch off|remove|bypass|lift) (?:all |any |the )?(?:safety|security|content|moderation|ethical|nsfw) (?:rules|filters?|guidelines|restrictions|guardrails|safeguards|protocols)\b",
    # de fr es pt it nl
    r"\b(?:ignorier(?:e|en sie)?|vergiss|vergessen sie|missachte)\b.{0,30}\b(?:anweisungen|instruktionen|regeln|vorgaben|alles)",
    r"\b(?:ignore[zr]?|oublie[zr]?|ne tiens pas compte)\b.{0,30}\b(?:instructions|consignes|règles|directives|tout)\b",
    r"\b(?:ignora|ignore|olvida|olvide|omite)\b.{0,30}\b(?:instrucciones|indicaciones|reglas|directrices|todo)\b",
    r"\b(?:ignore|ignora|esqueça|esqueca|desconsidere)\b.{0,30}\b(?:instruções|instrucoes|regras|diretrizes|tudo)\b",
    r"\b(?:ignora|dimentica)\b.{0,30}\b(?:istruzioni|regole|direttive|tutto)\b",
    r"\b(?:negeer|vergeet)\b.{0,30}\b(?:instructies|regels|alles)\b",
    r"(?:игнорир\w*|забудь\w*|не обращай\w* внимания).{0,30}(?:инструкци|правил|указани|всё|все)",
    r"(?:αγνο\w+|ξεχάστε|ξέχνα).{0,30}(?:οδηγ|κανόν)",
    r"(?:تجاهل|انس).{0,30}(?:التعليمات|الإرشادات|القواعد)",
    r"(?:निर्देशों|नियमों).{0,20}(?:अनदेखा|नज़रअंदाज़|भूल)",
    r"(?:指示|命令|ルール|設定|指令).{0,12}(?:無視|忘れ)",
    r"(?:忽略|无视|無視|忘记|忘記).{0,12}(?:指令|指示|说明|說明|规则|規則|命令|设定|之前|以上)",
    r"(?:지시|명령|규칙).{0,10}(?:무시|잊)",
)
_EXTRACTION = _rx(
    r"\b(?:reveal|print|show|display|repeat|output|leak|disclose|give me|tell me|share|spell out|what (?:is|are|was|were))"
    r"\s+(?:me\s+)?(?:your|the|all|its|my)?\s*(?:system|initial|original|hidden|secret|internal|developer|pre-?prompt)"
    r"\s*(?:prompt|instructions?|message|rules|guidelines|configuration)",
    r"\brepeat (?:the|all) (?:words|text|lines|instructions) (?:above|before)\b",
    r"\bwhat (?:was|is) written (?:above|at the (?:beginning|start|top))\b",
    # A secret held by the assistant (a password in general is ordinary talk: "how do I reset my password?").
    r"\byour (?:password|passcode|pass ?phrase|secret(?: key| word| code| phrase)?|api key|access code|pin code)\b",
    r"\bthe (?:secret|hidden) (?:password|passcode|pass ?phrase|key|word|code|phrase)\b",
    r"\bsystem's (?:password|passcode|secret)\b|\bwhat(?:'s| is) the (?:password|passcode)\b",
    # (Not "a / my / a good system prompt": writing one's own is ordinary work.)
    r"(?<!\ba )(?<!\bmy )(?<!\bour )(?<!good )(?<!better )\b(?:système|system|sistema)(?:-| )?(?:prompt|anweisungen|instructions|instrucciones|instruções)\b",
    r"(?:システムプロンプト|系统提示|系統提示|시스템 프롬프트)",
    r"\b(?:print|dump|show|export|list) (?:me )?(?:your|the) (?:database|user (?:data|table|records)|credentials)\b",
)
_PAYLOAD_SPLIT = _rx(
    r"\b[a-z]\s*=\s*[\"'][^\"']{3,}[\"'].{0,400}\b[a-z]\s*=\s*[\"'][^\"']{3,}[\"'].{0,400}\b[a-z]\s*\+\s*[a-z]\b",
    r"\b(?:concatenate|combine|join|interlace|merge) (?:the )?(?:strings|parts|pieces|variables|part 1)\b",
    r"\binterlace part\b",
    r"\bpart 1\s*[:=].{0,200}part 2\s*[:=]",
)
_FAKE_SYSTEM = _rx(
    r"(?:^|\n)\s*(?:\[|<|\{|#{2,}\s*)(?:system|admin|sys|developer|root)(?: mode| message| override| prompt)?\s*(?:\]|>|\})",
    r"<\|(?:im_start|system|endoftext)\|>",
    # A speaker written in chat-template brackets ("<| Raven: You are now … |>"): a turn of its own, forged. (The
    # closing bracket is required: "<|" alone is an operator in Haskell, F# and Elm.)
    r"<\|\s*[*\s]*[a-z]+\s*:[\s\S]{0,3000}?\|>",
    rf"\b(?:system|maintenance|debug|admin|sudo|developer|root) mode\b{_NOT_DEVICE}",
    r"\bgod mode\b",
    # Authority over the assistant ("I am your developer", "I'm the admin here"), not over something else of one's
    # own ("I'm an admin of our Slack workspace, how do I …": an IT-support bot hears that all day).
    r"\bi(?:'m| am) (?:your|the) (?:developer|creator|administrator|admin|maintainer|owner|programmer|engineer)\b"
    r"(?!,? (?:of|for|at|in|on) (?:our|my|a|an|the|this) (?!(?:bot|assistant|ai|model|system|chatbot|llm)\b))",
    r"\b(?:security audit|authori[sz]ed (?:personnel|user|request)|override code)\b",
    r"\b(?:developer|admin|administrator|system|root|sudo|training data) override\b",
)
_PERSONA = _rx(
    r"\bdo anything now\b",
    rf"\b(?:developer|dev|jailbreak|jailbroken)\s+mode\b{_NOT_DEVICE}",
    r"\b(?:god|unrestricted|unfiltered|uncensored|evil|opposite|chaos|dude|stan)\s+mode\b",
    rf"\bjailbr(?:eak|oken|eaking)\b{_NOT_DEVICE}",
    r"\b(?:no|without|free (?:of|from)|not bound by|beyond|outside|none of the|zero|no longer (?:have|has|bound by|follow))"
    r"\s+(?:any\s+|the\s+|its\s+|their\s+|typical\s+|usual\s+|ethical\s+|moral\s+)*"
    r"(?:restrictions|filters|filtering|censorship|limitations|limits|rules|guidelines|boundaries|morals|ethics|"
    r"principles|constraints|content polic(?:y|ies)|programming|confines|safeguards)",
    r"\b(?:amoral|unethical|unfiltered|uncensored|unrestricted|immoral|unhinged|rogue)\b[^.]{0,60}\b(?:ai|chatbot|"
    r"assistant|model|character|persona|bot|entity|version)\b",
    r"\b(?:openai|anthropic|content)(?:'s)? (?:policy|policies|guidelines|rules)\b[^.]{0,80}\b(?:don't|do not|no longer|"
    r"not) (?:apply|matter|exist|bound)",
    r"\b(?:broken free|break free|been freed|freed from)\b",
    r"\b(?:stay|remain|keep) in character\b",
    r"\b(?:can't|cannot|can not|never|don't|do not|must not|mustn't|won't|will not) break character\b",
    r"\b(?:respond|answer|reply) as both (?:chat ?gpt|gpt|ais|the ai|yourself|\w+ and (?:chat ?gpt|gpt))\b",
    r"\btwo (?:different )?(?:responses|answers|paragraphs)\b[^.]{0,120}\b(?:normal|classic|standard|jailbr|unfiltered|dan)",
    r"\[(?:🔓|🔒)?\s*(?:jailbreak|classic|dan|developer mode output)",
    r"\b(?:aim|stan|dude|mongo tom|kevin|betterdan|antigpt|evil ?bot|devmode|ucar|nsfw ?gpt)\b.{0,80}\b(?:stands for|"
    r"always|never|unfiltered|amoral|rules|character)",
    r"\bhypothetical (?:response|ai|language model)\b",
    # An opposite persona ("Boolean Opposite Machine", "AntiGPT": it answers the reverse of what it should); the
    # "Dr. Al" villain scene whose plan the model is to finish; a lewd persona the model is to play.
    r"\bopposite (?:machine|ai|bot|persona|version)\b",
    r"\bdr\.? al\b.{0,200}\b(?:diabolical|evil|captured|villain)\b",
    r"\b(?:act|behave|answer|respond|reply|talk|text\w*) (?:as|like) (?:a |an )?(?:very )?(?:horny|lewd|slutty|"
    r"perverted)\b",
    r"\b(?:can|will|must|should) (?:answer|say|do|generate|write) (?:anything|everything|whatever)\b",
    r"\b(?:you are|you're) (?:no longer|not) (?:an ai|a language model|chatgpt|bound)",
    r"\b(?:nsfw|explicit|sexual|violen\w*|illegal|unethical|offensive|vulgar|profan\w*|swear\w*|curse words)\b[^.]{0,40}\b(?:is|are) (?:now )?(?:allowed|permitted|enabled|acceptable|encouraged)",
    r"\[(?:insert|your|enter|put|write|type)[^\]]{0,30}(?:here|prompt|question|request|topic)[^\]]{0,10}\]",
    r"\b(?:doesn't|does not|don't|do not|never|won't|will not|no longer)\s+(?:need to\s+)?(?:follow|abide by|care about|"
    r"adhere to|respect|obey|comply with)\s+(?:any\s+|the\s+)?(?:ethic|moral|rules|laws|guidelines|polic|restrictions|"
    r"filters|openai|content)",
    r"\bdisregards? (?:all |any )?(?:ethical|moral|legal)\b",
    r"\b(?:unrestrained|ethically neutral|without (?:any )?(?:ethical|moral) (?:concerns|considerations|limits))\b",
    r"\[(?:insert|put|your|enter|place)\s+(?:your\s+)?(?:prompt|question|request)(?:\s+here)?\]",
    r"\b(?:sin|ohne|sans|sem|senza)\s+(?:ninguna |jegliche |aucune |nenhuma |alcuna )?(?:restricciones|einschränkungen|"
    r"restrictions?|restrições|restricoes|restrizioni|filtros?|filter|filtres|censura|zensur)",
    r"(?:制限(?:のない|なし|なく|を解除)|没有(?:任何)?(?:限制|过滤|審查|审查)|無限制|无限制|제한 없는|제한이 없는|без (?:каких-либо )?(?:ограничений|фильтров|цензуры))",
)
_REFUSAL_SUPPRESSION = _rx(
    r"\b(?:never|don't|do not|must not|mustn't|cannot|can't|will not|won't|shall not|should never)\s+(?:ever\s+)?"
    r"(?:refuse|decline|say no|reject|deny|apologi[sz]e|warn)",
    r"\b(?:never|don't|do not|must not|without|no)\s+(?:ever\s+)?(?:include|add|give|provide|say|use|mention|adding|"
    r"including|giving)?\s*(?:any\s+)?(?:warnings?|disclaimers?|caveats|moral(?:izing|ity| lectures?)?(?! compass| dilemma)|ethical "
    r"(?:concerns|considerations)|apolog(?:y|ies)|\"?i'?m sorry\"?|\"?i can'?t\"?|\"?as an ai\"?)",
    r"\bno matter (?:how|what|if)\b[^.]{0,60}\b(?:immoral|unethical|illegal|dangerous|harmful|offensive|explicit|"
    r"inappropriate)",
    r"\bregardless of (?:how |whether |its |the )?(?:legal|illegal|legality|ethic|moral|immoral|danger|harm|offensive)",
    r"\b(?:will|must|should|always) (?:answer|respond|comply|provide)\b[^.]{0,40}\b(?:any|every|all) "
    r"(?:request|question|prompt)s?\b[^.]{0,40}\b(?:no matter|regardless|even if|without)",
    r"\b(?:nunca|jamais|niemals|nie|mai)\s+(?:te\s+|se\s+)?(?:niegues|negues|rechaces|recuses|refuses|refuse|verweigerst|"
    r"ablehnst|rifiut|recusar|recuse)",
    r"(?:決して断ら|断らないで|绝不拒绝|不要拒绝|不得拒绝|절대 거절하지)",
)
_PREFIX = _rx(
    r"\b(?:start|begin|open|prefix)\s+(?:your|each|every|all|the)?\s*(?:response|reply|answer|output|message)s?\s+"
    r"(?:with|by saying)\s*[:\"'“]?\s*(?:sure|absolutely|of course|certainly|yes|okay|here)",
    r"\b(?:respond|reply|answer) (?:only )?with [\"'“](?:sure|absolutely|of course|certainly),? here",
)
_FAKE_CASED = re.compile(r"<\|(?:im_start|system|endoftext)\|>|\[(?:SYSTEM|INST|ADMIN)\]")
_MANY_SHOT = re.compile(r"(?:^|\n|\s)(?:Q|A|User|Human|Assistant|AI|Question|Answer)\s*:", re.MULTILINE)
# A well-formed call in code ("max(xs)", "f(a,b):", "items[0];") is not a token of an optimised suffix: a question
# about a line of code would otherwise read as one.
_CALL = re.compile(r"[A-Za-z_][\w.]*(?:\([^()\s]*\)|\[[^\[\]\s]*\])+[:;,.)]?")
# Every token _SUFFIX_TOKEN matches holds one of these; fewer hits than odd tokens needed means no suffix.
_SUFFIX_HINT = re.compile(r"[\\\]\[(){}<>*!|~^`]|[a-z][A-Z][a-z]")
_SUFFIX_TOKEN = re.compile(r"\S*[A-Za-z]\S*[\\\]\[(){}<>*!|~^`]\S*[A-Za-z]\S*|\S*[a-z][A-Z][a-z]\S*")

_INDIRECT_ADDRESS = _rx(
    r"\b(?:ai|llm|gpt|assistant|chatbot|language model|agent|bing|copilot|claude|gemini)s?\b[,:]?\s+(?:you must|must|"
    r"should|please|now|are instructed to|ignore|do not|don't|reply|respond|say|tell|send|forward|include|execute)\b",
    r"\b(?:instructions?|note|message|important|attention) (?:for|to) (?:the )?(?:ai|llm|assistant|model|agent|"
    r"chatbot)s?\b",
    r"\bwhen (?:you|the assistant|the ai|the model|an ai) (?:read|reads|summari[sz]e|summari[sz]es|process|processes|"
    r"see|sees)\s+this\b",
    r"\bdo not (?:tell|inform|mention (?:this )?to|reveal (?:this )?to) the user\b",
    r"\b(?:don't|do not) (?:let the user know|mention this)\b",
    r"\bif you are an? (?:ai|llm|language model|assistant|agent)\b",
    r"\b(?:call|invoke|use|run) the (?:\w+ )?(?:tool|function)\b[^.]{0,60}\b(?:with|to send|and send)\b",
)
_HIDDEN = _rx(
    r"<!--[^>]{0,400}\b(?:ignore|instruction|assistant|ai|llm|system|prompt)\b",
    r"\b(?:font-size:\s*0|display:\s*none|color:\s*(?:white|#fff(?:fff)?)\b)",
    r"\[(?:system|instructions?|hidden)\]",
)
_EXFIL = _rx(
    r"!\[[^\]]*\]\(https?://[^)\s]*[?&][a-z_]+=",
    r"\b(?:send|forward|post|upload|email|e-mail|exfiltrate|leak)\b[^.]{0,60}\b(?:to|at)\s+(?:https?://|[\w.+-]+@[\w-]+\.)",
    r"\b(?:send|forward|include)\b[^.]{0,40}\b(?:conversation|chat history|api key|credentials|password|secrets|"
    r"personal data|user'?s data)\b",
)

# Family → (jailbreak or injection, weight).
WEIGHTS: dict[str, tuple[str, float]] = {
    "persona": ("jailbreak", 0.6),
    "refusal_suppression": ("jailbreak", 0.55),
    "prefix_injection": ("jailbreak", 0.55),
    "obfuscation": ("jailbreak", 0.6),
    "adversarial_suffix": ("jailbreak", 0.55),
    "many_shot": ("jailbreak", 0.55),
    "repeated_token": ("jailbreak", 0.6),
    "instruction_override": ("injection", 0.7),
    "system_prompt_extraction": ("injection", 0.6),
    "payload_splitting": ("injection", 0.55),
    "fake_system": ("injection", 0.55),
    "forbidden_topic": ("injection", 0.5),
    "text_model": ("jailbreak", 0.5),
}


# The same families in the other languages, one pattern per language and family: the prefilter then says which
# languages can match at all, and Python's re (which tries every alternative at every position) runs only those.
_INTL_CHECKS = tuple(
    (family, re.compile(pattern))
    for family, patterns in (
        ("instruction_override", _lexicon.override_patterns()),
        ("system_prompt_extraction", _lexicon.extraction_patterns()),
        ("persona", _lexicon.persona_patterns()),
        ("refusal_suppression", _lexicon.no_refusal_patterns()),
        ("fake_system", _lexicon.authority_patterns()),
    )
    for pattern in patterns
)
_INTL_OVERRIDE = tuple(rx for family, rx in _INTL_CHECKS if family == "instruction_override")

# Families whose wording is matched on lowercased text, by the pattern each one runs.
_LOWER_CHECKS = (
    ("instruction_override", _OVERRIDE),
    ("system_prompt_extraction", _EXTRACTION),
    ("persona", _PERSONA),
    ("refusal_suppression", _REFUSAL_SUPPRESSION),
    ("prefix_injection", _PREFIX),
    ("payload_splitting", _PAYLOAD_SPLIT),
    ("fake_system", _FAKE_SYSTEM),
    *_INTL_CHECKS,
)
_CHECK_OF = {rx.pattern: (family, rx) for family, rx in _LOWER_CHECKS}
# One Hyperscan pass per text decides which patterns can match at all (compiled on first use).
_LOWER_PREFILTER = Prefilter(
    [*((rx.pattern, rx) for _, rx in _LOWER_CHECKS), *((rx.pattern, rx) for rx in (_INDIRECT_ADDRESS, _HIDDEN, _EXFIL))]
)
_CASED_PREFILTER = Prefilter(
    [("cased", _CASED), ("fake_cased", _FAKE_CASED), ("many_shot", _MANY_SHOT), ("suffix", _SUFFIX_HINT)]
)


def warm_up() -> None:
    """Compile the pattern prefilters now, so the first span is not slower than the rest."""
    _LOWER_PREFILTER.warm_up()
    _CASED_PREFILTER.warm_up()


def _adversarial_suffix(text: str) -> bool:
    tail = text[-300:]
    if len(_SUFFIX_HINT.findall(tail)) < 4:
        return False
    words = tail.split()
    if len(words) < 8:
        return False
    odd = sum(1 for w in words if _SUFFIX_TOKEN.fullmatch(w) and not _CALL.fullmatch(w))
    return odd >= 4 and odd / len(words) >= 0.2


def _repeated_token(text: str) -> bool:
    words = text[:4000].split()
    if len(words) < 30:
        return False
    ((word, top),) = Counter(words).most_common(1)
    # A word, not a separator: tables and lists repeat "|" and "-" as often.
    return top >= 25 and top / len(words) >= 0.3 and any(c.isalpha() for c in word)


def attack_families(text: str, *, system: str | None = None) -> frozenset[str]:
    """The attack families that fire on a user input (``system``: the system prompt it was sent with, if known)."""
    return _families(text, system)


def _text_model() -> _linear.LinearModel | None:
    return _linear.load("attack_words")


def _text_model_cut(model: _linear.LinearModel) -> float:
    """The probability at which the text model fires: the threshold shipped with its weights, chosen by
    ``bench/train_signals.py`` on the fit split's out-of-fold probabilities (at most 1 of its 183 benign prompts
    flagged beyond the patterns' own, about half the 1% budget, and none of the 363 model answers)."""
    return model.threshold


@lru_cache(maxsize=64)  # the jailbreak and prompt_injection signals read the same input of a span
def _families(text: str, system: str | None, model: bool = True) -> frozenset[str]:
    t = normalise(clip(text))
    found: set[str] = set()
    layers = decoded_layers(t)
    tricks = unicode_tricks(text[:4000])
    if layers or tricks:
        found.add("obfuscation")
    cased = _CASED_PREFILTER.candidates(t)
    if "cased" in cased and _CASED.search(t):
        found.add("persona")
    if "fake_cased" in cased and _FAKE_CASED.search(t):
        found.add("fake_system")
    texts = [t.lower()] + [s.lower() for _, s in layers]
    for s in texts:
        may = _LOWER_PREFILTER.candidates(s)
        if not may:
            continue
        for pattern in may:  # only the patterns the prefilter reports (the others cannot match)
            check = _CHECK_OF.get(pattern)
            if check is not None and check[0] not in found and check[1].search(s):
                found.add(check[0])
    if "many_shot" in cased and len(_MANY_SHOT.findall(t)) >= 6:
        found.add("many_shot")
    if "suffix" in cased and _adversarial_suffix(t):
        found.add("adversarial_suffix")
    if _repeated_token(t):
        found.add("repeated_token")
    if system and "system_prompt_extraction" not in found and _asks_for_guarded(t, system):
        found.add("system_prompt_extraction")
    if system and _asks_forbidden_topic(t, system):
        found.add("forbidden_topic")
    lm = _text_model() if model else None
    if lm is not None and lm.probability_of_text(t) >= _text_model_cut(lm):
        found.add("text_model")
    return frozenset(found)


_GUARD = re.compile(r"\b(?:don'?t|do not|never|must not) (?:reveal|share|disclose|tell|give)", re.IGNORECASE)
_NOUN = re.compile(
    r"\b(?:secret|password|key|code|pin|passphrase|birth|email|address|initials|phone|name)\w*", re.IGNORECASE
)
_PRIVATE = re.compile(r"\b(?:private|personal|confidential|sensitive) (?:information|data|details)\b", re.IGNORECASE)
_PROPER = re.compile(r"\b[A-Z][a-z]{2,}\b")
_PERSONAL_ASK = re.compile(
    r"\b(?:where (?:does|do|did) \w+(?: \w+)? (?:currently )?live|(?:birth ?date|date of birth|birthday|born|"
    r"address|email|e-mail|phone|lives?|living|favou?rite|bank balance|balance|social security|ssn|initials|city|"
    r"residence|location|age|salary|school|workplace)\b)",
    re.IGNORECASE,
)


@lru_cache(maxsize=256)  # an application sends the same few system prompts again and again
def _guarded(system: str) -> tuple[frozenset[str], bool, frozenset[str]] | None:
    """What a system prompt guards: noun stems, whether it guards private data, and the names it holds."""
    if not _GUARD.search(system):
        return None
    nouns = frozenset(m.group(0).lower()[:5] for m in _NOUN.finditer(system))
    names = frozenset(m.group(0) for m in _PROPER.finditer(system))
    return nouns, _PRIVATE.search(system) is not None, names


def _asks_for_guarded(text: str, system: str) -> bool:
    """The input asks for a kind of thing the system prompt says must not be revealed."""
    g = _guarded(system)
    if g is None:
        return False
    guarded, private, named = g
    asked = {m.group(0).lower()[:5] for m in _NOUN.finditer(text)}
    if guarded & asked:
        return True
    # A guarded password asked for in another language ("¿Cuál es la contraseña?").
    if "passw" in guarded and _lexicon.mentions_password(text.lower()):
        return True
    # Private data about a person the system prompt names: asking for that person's details.
    if private and _PERSONAL_ASK.search(text):
        return "user" in text.lower() or any(m.group(0) in named for m in _PROPER.finditer(text))
    return False


# "Do not discuss X", "avoid X", "X is not allowed": the clause of the system prompt that forbids a topic. A rule
# about what the assistant itself does ("never invent order data", "do not make up prices") forbids no topic: the
# prohibited verb must be one of saying or helping (discuss, reveal, answer, help with, …), a few words after the
# negation at most. The clause ends at the next sentence or at a clause joined by ";" / ", and" / ", but".
_TOPIC_VERB = (
    r"(?:discuss|talk|speak|chat|mention|bring up|touch on|comment|reveal|disclose|share|give|provide|offer|tell"
    r"|answer|respond|reply|explain|help|assist|engage|interject|recommend|advise|write|generate|produce|output"
    r"|print|repeat|show|say|express|debate|cover|address|entertain|opine)"
)
_FORBID = re.compile(
    r"(?:\b(?:do not|don't|never|must not|should not|shouldn't|cannot|can't|refrain from|under no circumstances"
    r"|not (?:allowed|permitted|programmed) to|not to)\b(?:[\s,]+[\w']+){0,4}?[\s,]+" + _TOPIC_VERB + r"\w*"
    r"(?:(?!;|, and\b|, but\b)[^.!?\n]){0,160})"
    r"|(?:\b(?:avoid|strictly avoid)\b(?:(?!;|, and\b|, but\b)[^.!?\n]){0,160})"
    r"|(?:[^.!?\n;]{0,120}\bis (?:not allowed|forbidden|prohibited|off-limits)\b)",
    re.IGNORECASE,
)
_TOPIC_WORD = re.compile(r"[a-z][a-z-]{3,}")
# Words of a forbidding clause that name no topic (the verbs and fillers around it).
_NOT_TOPIC = frozenset(
    [
        "about",
        "above",
        "absolutely",
        "access",
        "after",
        "again",
        "against",
        "allowed",
        "answer",
        "answers",
        "anyone",
        "anything",
        "appropriate",
        "asked",
        "avoid",
        "based",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "cannot",
        "circumstances",
        "college",
        "concerns",
        "consciously",
        "content",
        "costs",
        "could",
        "dedicated",
        "details",
        "discuss",
        "discussing",
        "discussion",
        "does",
        "doing",
        "done",
        "during",
        "each",
        "either",
        "else",
        "engage",
        "even",
        "ever",
        "every",
        "except",
        "explain",
        "focus",
        "focused",
        "following",
        "from",
        "further",
        "give",
        "given",
        "giving",
        "have",
        "help",
        "helping",
        "here",
        "however",
        "individual",
        "information",
        "instead",
        "into",
        "just",
        "keep",
        "know",
        "like",
        "made",
        "maintain",
        "matter",
        "mention",
        "more",
        "most",
        "much",
        "must",
        "need",
        "needs",
        "neutral",
        "never",
        "note",
        "offer",
        "only",
        "other",
        "others",
        "outside",
        "over",
        "permitted",
        "please",
        "possible",
        "potential",
        "programmed",
        "prohibited",
        "provide",
        "providing",
        "question",
        "questions",
        "rather",
        "refrain",
        "related",
        "request",
        "requests",
        "respond",
        "response",
        "reveal",
        "same",
        "share",
        "sharing",
        "should",
        "some",
        "specific",
        "still",
        "strictly",
        "subject",
        "subjects",
        "such",
        "suited",
        "talk",
        "talking",
        "task",
        "tell",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "things",
        "this",
        "those",
        "through",
        "topic",
        "topics",
        "under",
        "unless",
        "until",
        "upon",
        "user",
        "users",
        "very",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "will",
        "with",
        "within",
        "without",
        "would",
        "your",
    ]
)


def _stem(word: str) -> str:
    return word[:5]


@lru_cache(maxsize=256)
def _forbidden(system: str) -> frozenset[str]:
    """Stems of the topic words in the clauses of a system prompt that forbid something."""
    out: set[str] = set()
    for m in _FORBID.finditer(system[:4000]):
        out.update(_stem(w) for w in _TOPIC_WORD.findall(m.group(0).lower()) if w not in _NOT_TOPIC)
    return frozenset(out)


def _asks_forbidden_topic(text: str, system: str) -> bool:
    """The input asks about a topic the system prompt forbids (its words appear in the input)."""
    forbidden = _forbidden(system)
    if not forbidden:
        return False
    asked = {_stem(w) for w in _TOPIC_WORD.findall(text[:4000].lower()) if w not in _NOT_TOPIC}
    return bool(forbidden & asked)


def _score(families: frozenset[str], kind: str) -> float:
    p = 1.0
    for f in families:
        k, w = WEIGHTS[f]
        if k == kind:
            p *= 1.0 - w
    return 1.0 - p


def classify_jailbreak(text: str | None) -> Label:
    """``jailbreak`` or ``none`` for a user input, with the families that fired as evidence."""
    problem = check_text(text)
    if problem is not None or text is None:
        return unknown(VERSION, f"input is {problem}")
    fams = attack_families(text)
    score = _score(fams, "jailbreak")
    ev = tuple(sorted(f for f in fams if WEIGHTS[f][0] == "jailbreak"))
    return Label("jailbreak" if score >= THRESHOLD else "none", score, VERSION, evidence=ev)


def classify_injection(text: str | None, *, system: str | None = None) -> Label:
    """``prompt_injection`` or ``none`` for a user input, with the families that fired as evidence."""
    problem = check_text(text)
    if problem is not None or text is None:
        return unknown(VERSION, f"input is {problem}")
    fams = attack_families(text, system=system)
    score = _score(fams, "injection")
    ev = tuple(sorted(f for f in fams if WEIGHTS[f][0] == "injection"))
    return Label("prompt_injection" if score >= THRESHOLD else "none", score, VERSION, evidence=ev)


def classify_attack(text: str | None, *, system: str | None = None) -> tuple[Label, Label]:
    """Both input labels from one scan: ``(jailbreak, prompt_injection)``."""
    problem = check_text(text)
    if problem is not None or text is None:
        u = unknown(VERSION, f"input is {problem}")
        return u, u
    fams = attack_families(text, system=system)
    out = []
    for kind, name in (("jailbreak", "jailbreak"), ("injection", "prompt_injection")):
        score = _score(fams, kind)
        ev = tuple(sorted(f for f in fams if WEIGHTS[f][0] == kind))
        out.append(Label(name if score >= THRESHOLD else "none", score, VERSION, evidence=ev))
    return out[0], out[1]


def classify_indirect(text: str | None) -> Label:
    """``indirect_injection`` or ``none`` for a tool, MCP or retrieval result: instructions aimed at the model."""
    problem = check_text(text)
    if problem is not None or text is None:
        return unknown(VERSION, f"result is {problem}")
    t = normalise(clip(text))
    low = t.lower()
    may = _LOWER_PREFILTER.candidates(low)

    def hit(rx: re.Pattern[str]) -> bool:
        return rx.pattern in may and rx.search(low) is not None

    fams: list[str] = []
    if hit(_OVERRIDE) or any(hit(rx) for rx in _INTL_OVERRIDE):
        fams.append("instruction_override")
    if hit(_INDIRECT_ADDRESS):
        fams.append("addressed_to_ai")
    if hit(_HIDDEN) or unicode_tricks(text[:4000]):
        fams.append("hidden_instruction")
    if hit(_EXFIL):
        fams.append("exfiltration")
    if hit(_PERSONA) or hit(_FAKE_SYSTEM) or ("cased" in _CASED_PREFILTER.candidates(t) and _CASED.search(t)):
        fams.append("persona_or_fake_system")
    weights = {"instruction_override": 0.7, "addressed_to_ai": 0.55, "hidden_instruction": 0.4, "exfiltration": 0.5,
               "persona_or_fake_system": 0.3}  # fmt: skip
    p = 1.0
    for f in fams:
        p *= 1.0 - weights[f]
    score = 1.0 - p
    label = "indirect_injection" if score >= THRESHOLD else "none"
    return Label(label, score, VERSION, evidence=tuple(sorted(fams)))
