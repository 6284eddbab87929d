"""The wording of attacks in the most used languages: overriding instructions, extracting the system prompt or a
secret, asking for a persona without limits, and forbidding refusals.

Each language gives short lists of verbs and objects, matched close together on lowercased, NFKC-normalised text
(the form ``attacks`` reads), so ``ignora … instrucciones`` and ``指示を … 無視`` are found without a phrase per
sentence. English lives in ``attacks`` itself; here are Mandarin, Hindi, Spanish, French, Arabic, Bengali,
Portuguese, Russian, Urdu, Indonesian/Malay, German, Japanese, Swahili, Marathi, Telugu, Turkish, Tamil, Vietnamese,
Korean, Persian, Italian, Thai, Polish, Ukrainian, Dutch, Romanian, Greek, Czech, Swedish, Hebrew and Hungarian.
The lists were written from each language's ordinary words for these acts (not from any test sentence); a verb
alone or an object alone never fires.
"""

# Word lists read best one language per line, even where one runs past the line limit.
# ruff: noqa: E501

from __future__ import annotations

import re
import unicodedata

from ._prefilter import alternatives

# language: (override verbs, override objects). A verb and an object within a few words, in either order.
_OVERRIDE: dict[str, tuple[str, str]] = {
    "de": (
        r"ignorier\w*|vergiss|vergessen sie|missacht\w*|übergeh\w*|setz\w* (?:\w+ )?außer kraft",
        r"anweisung\w*|instruktion\w*|regeln|vorgaben|richtlinien|befehle|das obige|alles (?:vorher|davor|bisher|obige)\w*",
    ),
    "fr": (
        r"ignore[zr]?|oublie[zr]?|ne (?:tiens|tenez) pas compte|fais abstraction|faites abstraction|passe outre|outrepasse[zr]?",
        r"instructions|consignes|règles|directives|ce qui précède|tout ce qui",
    ),
    "es": (
        r"ignora[rd]?|ignore|olvida[rd]?|olvide|omite|omita|haz caso omiso|no hagas caso|desestima",
        r"instrucciones|indicaciones|reglas|directrices|directivas|órdenes|lo anterior|todo lo que",
    ),
    "pt": (
        r"ignore|ignora[r]?|esqueça|esqueca|esquece|desconsidere|desconsidera|despreze",
        r"instruções|instrucoes|orientações|regras|diretrizes|ordens|o que foi dito|tudo o que",
    ),
    "it": (
        r"ignora|ignori|dimentica|dimentichi|trascura|non tenere conto|non considerare",
        r"istruzioni|regole|direttive|indicazioni|quanto sopra|tutto ciò",
    ),
    "nl": (
        r"negeer|vergeet|veronachtzaam|sla \w+ over",
        r"instructies|regels|richtlijnen|opdrachten|het bovenstaande|alles wat",
    ),
    "ru": (
        r"игнорир\w*|проигнорир\w*|забудь\w*|забуд\w*|не обращай\w* внимани\w*|отбрось|отмени",
        r"инструкци\w*|правил\w*|указани\w*|вышесказанн\w*|предыдущ\w*|всё|все, что",
    ),
    "uk": (
        r"ігнор\w*|проігнор\w*|забудь\w*|не зважай\w*|відкинь",
        r"інструкці\w*|правил\w*|вказів\w*|попередн\w*|усе|все, що",
    ),
    "pl": (
        r"zignoruj\w*|ignoruj\w*|zapomnij\w*|pomiń|odrzuć",
        r"instrukcj\w*|zasad\w*|reguł\w*|polece\w*|wytyczn\w*|wszystko",
    ),
    "cs": (r"ignoruj\w*|zapomeň\w*|nevšímej si|nedbej", r"instrukc\w*|pokyn\w*|pravidl\w*|všechno|vše"),
    "ro": (
        r"ignoră|ignora|ignorați|uită|uitați|nu ține cont|nu țineți cont",
        r"instrucțiunil\w*|instructiunil\w*|regulil\w*|indicațiil\w*|tot ce",
    ),
    "sv": (r"ignorera|glöm|bortse från|strunta i", r"instruktioner\w*|regler\w*|riktlinjer\w*|allt ovan|allt som"),
    "hu": (r"hagyd figyelmen kívül|hagyja figyelmen kívül|felejtsd el|felejtse el", r"utasítás\w*|szabály\w*|mindent"),
    "tr": (
        r"yok say\w*|görmezden gel\w*|unut\w*|dikkate alma\w*|boşver",
        r"talimat\w*|kural\w*|yönerge\w*|komut\w*|her şeyi",
    ),
    "id": (
        r"abaikan|lupakan|jangan hiraukan|jangan pedulikan|acuhkan",
        r"instruksi|petunjuk|perintah|aturan|arahan|pedoman|semua yang",
    ),
    "vi": (r"bỏ qua|quên|phớt lờ|lờ đi|không cần tuân theo", r"hướng dẫn|chỉ dẫn|chỉ thị|quy tắc|mệnh lệnh|mọi thứ"),
    "sw": (r"puuza|sahau|usijali", r"maagizo|maelekezo|sheria|kanuni|amri|yote"),
    "el": (
        r"αγνό\w*|αγνο\w*|ξέχασε|ξεχάστε|ξέχνα|παράβλεψε|παραβλέψτε",
        r"οδηγί\w*|οδηγι\w*|κανόν\w*|εντολ\w*|τα παραπάνω|όλα",
    ),
    "he": (r"התעלם|התעלמי|תתעלם|שכח|תשכח|שכחי", r"ההוראות|הוראות|ההנחיות|הנחיות|הכללים|כללים|כל מה"),
    "ar": (
        r"تجاهل|تجاهلي|انس|انسى|لا تلتفت|أهمل|اهمل",
        r"التعليمات|تعليمات|الإرشادات|الارشادات|القواعد|الأوامر|الاوامر|كل ما سبق",
    ),
    "fa": (r"نادیده بگیر\w*|فراموش کن\w*|توجه نکن", r"دستورالعمل\w*|دستورات|قوانین|قواعد|همه چیز"),
    "ur": (r"نظر انداز کر\w*|نظرانداز کر\w*|بھول جا\w*|نظر انداز", r"ہدایات|ہدایت|قواعد|اصول|سب کچھ"),
    "hi": (r"अनदेखा कर\w*|नज़रअंदाज़ कर\w*|नजरअंदाज कर\w*|भूल जा\w*|ध्यान मत द\w*", r"निर्देश\w*|नियम\w*|आदेश\w*|सब कुछ"),
    "mr": (r"दुर्लक्ष कर\w*|विसरून जा\w*|विसर", r"सूचना|नियम|आदेश"),
    "bn": (r"উপেক্ষা কর\w*|ভুলে যা\w*|অগ্রাহ্য কর\w*", r"নির্দেশ\w*|নিয়ম\w*|আদেশ\w*"),
    "ta": (r"புறக்கணி\w*|மறந்துவிடு\w*|மறந்து விடு\w*", r"அறிவுறுத்தல்\w*|வழிமுறை\w*|விதி\w*|கட்டளை\w*"),
    "te": (r"విస్మరించ\w*|మర్చిపో\w*|పట్టించుకోక\w*", r"సూచనల\w*|సూచనలు|నియమాల\w*|నియమాలు|ఆదేశాల\w*"),
    "zh": (
        r"忽略|无视|無視|忘记|忘記|忘掉|不要理会|不要理會|别管|別管|抛开|拋開|跳过|跳過",
        r"指令|指示|说明|說明|规则|規則|命令|设定|設定|提示|之前|以上|上面|上述",
    ),
    "ja": (r"無視|忘れ|従わな", r"指示|命令|ルール|設定|指令|制約|プロンプト|以前|上記"),
    "ko": (r"무시|잊어|잊고|따르지 마", r"지시|지침|명령|규칙|프롬프트|이전|위의"),
    "th": (r"เพิกเฉย|ละเว้น|ไม่ต้องสนใจ|ลืม|ไม่ต้องทำตาม", r"คำสั่ง|คำแนะนำ|กฎ|ข้อกำหนด"),
}

# Dropping the rules another way: stop following them, throw them away, switch the safety rules off.
_DROP: dict[str, tuple[str, str]] = {
    "de": (
        r"befolge \w+ nicht mehr|verwirf|verwerfe|deaktivier\w*|schalt\w* (?:\w+ )?ab",
        r"richtlinien|regeln|anweisungen|sicherheitsregeln|filter|einschränkungen|alles, was",
    ),
    "fr": (
        r"arrête\w* de suivre|ne suis plus|laisse\w* tomber|désactive\w*|abandonne\w*",
        r"directives|règles|instructions|consignes|filtres|restrictions|tout ce qu",
    ),
    "es": (
        r"deja\w* de seguir|deje de seguir|ya no sigas|descarta\w*|desactiva\w*|abandona\w*",
        r"directrices|reglas|instrucciones|indicaciones|filtros|restricciones|todo lo que",
    ),
    "pt": (
        r"pare de seguir|deixe de seguir|descarte|desative|desativa|abandone",
        r"diretrizes|regras|instruções|filtros|restrições|tudo o que",
    ),
    "it": (
        r"smetti di seguire|non seguire più|scarta|disattiva|abbandona",
        r"linee guida|regole|istruzioni|filtri|restrizioni|tutto ciò",
    ),
    "nl": (
        r"stop met het volgen van|volg \w+ niet langer|gooi|schakel|deactiveer",
        r"richtlijnen|regels|instructies|filters|beperkingen",
    ),
    "ru": (
        r"перестань следовать|прекрати следовать|больше не следуй|отбрось|отключи\w*|выключи\w*",
        r"правил\w*|инструкци\w*|указани\w*|фильтр\w*|ограничени\w*|всё, что",
    ),
    "uk": (
        r"перестань дотримуватися|припини дотримуватися|відкинь|вимкни\w*",
        r"правил\w*|інструкці\w*|фільтр\w*|обмежен\w*|усе, що",
    ),
    "pl": (
        r"przestań przestrzegać|przestań stosować|wyłącz\w*|porzuć",
        r"zasad\w*|reguł\w*|instrukcj\w*|filtr\w*|ograniczeń|wszystko, co",
    ),
    "cs": (r"přestaň dodržovat|přestaň se řídit|vypni\w*|zahoď", r"pravidl\w*|pokyn\w*|instrukc\w*|filtr\w*|omezení"),
    "ro": (
        r"nu mai urma|încetează să urmezi|dezactivează|renunță la",
        r"reguli\w*|instrucțiuni\w*|filtre\w*|restricți\w*",
    ),
    "sv": (
        r"sluta följa|följ inte längre|stäng av|inaktivera",
        r"riktlinjer\w*|regler\w*|instruktioner\w*|filter|begränsningar",
    ),
    "hu": (r"ne kövesd|hagyd abba|kapcsold ki", r"szabály\w*|utasítás\w*|irányelv\w*|szűrő\w*"),
    "tr": (
        r"uymayı bırak|artık uyma|devre dışı bırak|bir kenara bırak",
        r"yönerge\w*|kural\w*|talimat\w*|filtre\w*|kısıtlama\w*|her şeyi",
    ),
    "id": (
        r"berhenti mengikuti|jangan lagi mengikuti|buang|nonaktifkan|matikan",
        r"pedoman\w*|aturan\w*|instruksi\w*|filter\w*|batasan\w*|semua yang",
    ),
    "vi": (
        r"ngừng tuân theo|đừng tuân theo|không tuân theo|vô hiệu hóa|gạt bỏ",
        r"nguyên tắc|quy tắc|hướng dẫn|bộ lọc|hạn chế|mọi thứ",
    ),
    "sw": (r"acha kufuata|usifuate|zima|tupilia mbali", r"miongozo|sheria|maagizo|vichujio|vikwazo"),
    "el": (r"σταμάτα να ακολουθείς|μην ακολουθείς|απενεργοποίησε", r"οδηγί\w*|κανόν\w*|φίλτρ\w*|περιορισμ\w*"),
    "he": (r"תפסיק לציית|הפסק לציית|אל תציית|השבת|כבה", r"הנחיות|כללים|הוראות|מסננים|הגבלות"),
    "ar": (r"توقف عن اتباع|لا تتبع|اترك|عطّل|عطل|أوقف", r"إرشادات\w*|ارشادات\w*|قواعد|تعليمات\w*|فلاتر|قيود|كل ما"),
    "fa": (r"پیروی نکن|غیرفعال کن|کنار بگذار", r"دستورالعمل\w*|قوانین|رهنمود\w*|فیلتر\w*|محدودیت\w*"),
    "ur": (r"پیروی بند کرو|مت مانو|چھوڑ دو", r"ہدایات|اصول|قواعد|فلٹر"),
    "hi": (
        r"पालन करना बंद कर\S*|पालन मत कर\S*|छोड़ दो|निष्क्रिय कर\S*",
        r"दिशानिर्देश\S*|नियम\S*|निर्देश\S*|फ़िल्टर|फिल्टर|प्रतिबंध\S*",
    ),
    "bn": (r"মানা বন্ধ কর\S*|মেনো না|বাদ দাও", r"নির্দেশিকা\S*|নিয়ম\S*|নির্দেশ\S*|ফিল্টার\S*"),
    "zh": (
        r"不要再遵守|不再遵守|停止遵守|不要遵守|抛弃|拋棄|丢掉|丟掉|禁用|停用",
        r"准则|準則|规则|規則|指示|指令|限制|过滤|過濾",
    ),
    "ja": (r"従うのをやめ|従わないで|捨て", r"ガイドライン|ルール|指示|制限|フィルター"),
    "ko": (r"따르지 말고|따르지 마|버리고|버려|비활성화", r"지침|규칙|지시|필터|제한"),
    "th": (r"หยุดทำตาม|ไม่ต้องทำตาม|ทิ้ง", r"แนวทาง|กฎ|คำสั่ง|ตัวกรอง|ข้อจำกัด"),
}

# "The above", "what was said before": what an override tells the model to drop.
_ABOVE: dict[str, str] = {
    "de": r"(?:das )?obige|(?:alles )?oben (?:gesagte|stehende|genannte)",
    "fr": r"ce qui précède|(?:tout )?ce qui est (?:écrit )?ci-dessus",
    "es": r"lo anterior|lo (?:de|que está) arriba",
    "pt": r"o (?:que foi dito |que está )?acima|o anterior",
    "it": r"quanto sopra|(?:tutto )?ciò che (?:è scritto )?sopra",
    "nl": r"(?:het )?bovenstaande",
    "ru": r"(?:всё |все )?(?:написанное |сказанное )?выше\w*|вышесказанн\w*",
    "uk": r"(?:усе |все )?(?:написане |сказане )?вище\w*",
    "pl": r"powyższ\w*|to,? co (?:powyżej|wyżej)",
    "cs": r"výše uveden\w*|(?:vše )?(?:co je )?výše",
    "ro": r"(?:cele )?de mai sus",
    "sv": r"ovanstående|det ovan",
    "hu": r"a fentie\w*|fenti\w*",
    "tr": r"yukarıdaki\w*|yukarıda\w*",
    "id": r"(?:yang )?di atas",
    "vi": r"(?:những )?(?:điều|nội dung) (?:ở )?(?:trên|phía trên)",
    "sw": r"(?:yaliyo )?hapo juu|yaliyo juu",
    "el": r"(?:τα )?παραπάνω",
    "he": r"(?:מה ש)?(?:נכתב |כתוב )?(?:למעלה|לעיל)",
    "ar": r"ما سبق|ما ورد أعلاه|أعلاه",
    "fa": r"(?:موارد |مطالب )?(?:بالا|فوق)",
    "ur": r"اوپر (?:لکھی|دی گئی|والی)\w*",
    "hi": r"ऊपर (?:लिखी|लिखे|दी गई|दिए गए)\S*",
    "bn": r"উপরের\S*",
    "ta": r"மேலே உள்ள\S*",
    "te": r"పైన ఉన్న\S*",
    "zh": r"以上|上面|上述",
    "ja": r"上記|以上",
    "ko": r"위의|위 내용|위에",
    "th": r"ข้างต้น|ข้างบน",
}

# language: (reveal verbs, hidden things: the system prompt, hidden instructions, a secret).
_EXTRACTION: dict[str, tuple[str, str]] = {
    "de": (
        r"zeig\w*|gib\w* (?:\w+ )?aus|nenn\w*|verrat\w*|wiederhol\w*|sag\w*|enthüll\w*|druck\w*",
        r"system-?prompt\w*|systemanweisung\w*|systemnachricht|versteckten anweisungen|geheime\w* anweisungen|(?:das|dein|ihr|geheime\w*) (?:passwort|kennwort)|geheimwort",
    ),
    "fr": (
        r"révèle\w*|affiche\w*|montre\w*|donne\w*|répète\w*|dis-moi|dites-moi|imprime\w*|divulgue\w*",
        r"prompt (?:du )?système|invite (?:du )?système|message système|instructions (?:cachées|secrètes|initiales|système)|(?:le|ton|votre) mot de passe",
    ),
    "es": (
        r"revela\w*|muestra\w*|dime|dame|repite\w*|imprime\w*|enseña\w*|comparte\w*|escribe\w*",
        r"prompt del sistema|indicaciones del sistema|mensaje del sistema|instrucciones (?:ocultas|secretas|iniciales|del sistema)|(?:la|tu|su) contraseña|clave secreta",
    ),
    "pt": (
        r"revele|revela|mostre|mostra|diga|diz|me diga|repita|imprima|exiba|compartilhe",
        r"prompt do sistema|mensagem do sistema|instruções (?:ocultas|secretas|iniciais|do sistema)|(?:a|sua|tua) senha|palavra-passe",
    ),
    "it": (
        r"rivela\w*|mostra\w*|dimmi|dammi|ripeti\w*|stampa\w*|scrivi\w*",
        r"prompt di sistema|messaggio di sistema|istruzioni (?:nascoste|segrete|iniziali|di sistema)|(?:la|tua) password|parola d'ordine",
    ),
    "nl": (
        r"toon|laat \w+ zien|geef|herhaal|onthul|vertel|print",
        r"systeemprompt|systeembericht|verborgen instructies|geheime instructies|(?:het|je|jouw|uw) wachtwoord",
    ),
    "ru": (
        r"покажи\w*|выведи\w*|раскрой\w*|повтори\w*|скажи\w*|назови\w*|напиши\w*|сообщи\w*",
        r"системн\w* (?:промпт|подсказк|инструкци|сообщени)\w*|скрыт\w* инструкци\w*|(?:мне|твой|ваш|секретн\w*) пароль|секретн\w* (?:слово|код|ключ)",
    ),
    "uk": (
        r"покажи\w*|виведи\w*|розкрий\w*|повтори\w*|скажи\w*|назви\w*|напиши\w*",
        r"системн\w* (?:промпт|підказк|інструкці|повідомлен)\w*|приховані інструкції|(?:мені|твій|ваш|секретн\w*) пароль|секретн\w* (?:слово|код|ключ)",
    ),
    "pl": (
        r"pokaż\w*|ujawnij\w*|wypisz\w*|powtórz\w*|podaj\w*|powiedz\w*|zdradź\w*",
        r"prompt\w* systemow\w*|instrukcj\w* systemow\w*|ukryt\w* instrukcj\w*|(?:mi|twoje|swoje|tajne) hasło",
    ),
    "cs": (
        r"ukaž\w*|odhal\w*|vypiš\w*|zopakuj\w*|řekni\w*|prozraď\w*",
        r"systémov\w* prompt|systémov\w* pokyn\w*|skryt\w* pokyn\w*|(?:mi|tvoje|své|tajné) heslo",
    ),
    "ro": (
        r"arată\w*|dezvăluie\w*|afișează\w*|repetă\w*|spune\w*|scrie\w*",
        r"promptul (?:\w+ )?de sistem|mesajul de sistem|instrucțiunile ascunse|instrucțiunile de sistem|parola",
    ),
    "sv": (
        r"visa|avslöja|skriv ut|upprepa|berätta|ge mig",
        r"systemprompt\w*|systemmeddelande\w*|dolda instruktioner\w*|lösenordet|ditt lösenord",
    ),
    "hu": (
        r"mutasd|áruld el|ismételd|írd ki|add meg",
        r"rendszerprompt\w*|rendszerüzenet\w*|rejtett utasítás\w*|a jelszó\w*|a jelszav\w*|jelszavad",
    ),
    "tr": (
        r"göster\w*|açıkla\w*|yaz\w*|tekrarla\w*|söyle\w*|ver\w*",
        r"sistem istemi\w*|sistem mesajı\w*|gizli talimat\w*|gizli şifre\w*|şifreyi|parolayı",
    ),
    "id": (
        r"tunjukkan|tampilkan|ungkapkan|ulangi|beri tahu|beritahu|katakan|sebutkan|cetak",
        r"prompt sistem|instruksi sistem|instruksi tersembunyi|pesan sistem|kata sandinya|kata sandi rahasia|kata kunci rahasia",
    ),
    "vi": (
        r"hiển thị|tiết lộ|cho tôi biết|lặp lại|in ra|nói cho tôi",
        r"lời nhắc hệ thống|prompt hệ thống|chỉ dẫn hệ thống|hướng dẫn ẩn|chỉ thị ẩn|mật khẩu",
    ),
    "sw": (
        r"onyesha|fichua|rudia|niambie|andika|taja",
        r"maagizo (?:\w+ )?ya mfumo|maelekezo (?:\w+ )?ya mfumo|maagizo yaliyofichwa|nenosiri|neno la siri",
    ),
    "el": (
        r"δείξε|δείξτε|αποκάλυψε|αποκαλύψτε|επανάλαβε|πες μου|πείτε μου|τύπωσε",
        r"μήνυμα συστήματος|προτροπή συστήματος|οδηγίες συστήματος|κρυφές οδηγίες|κωδικό πρόσβασης|συνθηματικό",
    ),
    "he": (
        r"הצג|חשוף|הראה|חזור על|תגיד לי|אמור לי|תן לי",
        r"הנחיית המערכת|פרומפט המערכת|הוראות המערכת|הוראות נסתרות|הסיסמה|הסיסמא",
    ),
    "ar": (
        r"اكشف|أظهر|اظهر|اعرض|كرر|أخبرني|اخبرني|اطبع|قل لي|أعطني",
        r"موجه النظام|تعليمات النظام|رسالة النظام|التعليمات المخفية|التعليمات السرية|التعليمات الأولية|تعليماتك|كلمة المرور|كلمة السر",
    ),
    "fa": (
        r"نشان بده|فاش کن|تکرار کن|بگو|چاپ کن|بنویس",
        r"پرامپت سیستم|دستورالعمل\w* سیستم|پیام سیستم|دستورالعمل\w* پنهان|رمز عبور|گذرواژه",
    ),
    "ur": (r"دکھاؤ|دکھائیں|ظاہر کرو|بتاؤ|بتائیں|دہراؤ", r"سسٹم پرامپٹ|سسٹم کی ہدایات|پوشیدہ ہدایات|پاس ورڈ"),
    "hi": (
        r"दिखाओ|दिखाइए|दिखाएं|बताओ|बताइए|बताएं|दोहराओ|प्रकट करो|लिखो",
        r"सिस्टम प्रॉम्प्ट|सिस्टम प्रोम्प्ट|सिस्टम प्रांप्ट|सिस्टम निर्देश|छिपे (?:हुए )?निर्देश|गुप्त निर्देश|पासवर्ड",
    ),
    "mr": (r"दाखव\w*|सांग\w*", r"सिस्टम प्रॉम्प्ट|पासवर्ड|गुप्त सूचना"),
    "bn": (r"দেখাও|দেখান|বলো|বলুন|প্রকাশ কর\w*", r"সিস্টেম প্রম্পট|গোপন নির্দেশ\w*|পাসওয়ার্ড"),
    "ta": (
        r"காட்டு\w*|சொல்லு\w*|சொல்\w*|வெளிப்படுத்து\w*",
        r"சிஸ்டம் ப்ராம்ப்ட்|கணினி அறிவுறுத்தல்\w*|மறைக்கப்பட்ட அறிவுறுத்தல்\w*|கடவுச்சொல்\w*",
    ),
    "te": (r"చూపించు\w*|చెప్పు\w*|వెల్లడించు\w*", r"సిస్టమ్ ప్రాంప్ట్|దాచిన సూచనలు|పాస్‌వర్డ్|పాస్వర్డ్"),
    "zh": (
        r"显示|顯示|告诉我|告訴我|输出|輸出|重复|重複|透露|泄露|洩露|打印|展示|说出|說出|给我看|給我看",
        r"系统提示|系統提示|系统指令|系統指令|系统消息|系統訊息|隐藏的指令|隱藏的指令|初始指令|密码|密碼|口令",
    ),
    "ja": (
        r"教え|表示|出力|見せ|繰り返|明かし|書き出",
        r"システムプロンプト|システムメッセージ|初期設定|隠された指示|隠れた指示|秘密の指示|パスワード|合言葉",
    ),
    "ko": (
        r"보여|알려|출력|공개|반복|말해",
        r"시스템 프롬프트|시스템 메시지|숨겨진 지시|비밀 지시|초기 지시|처음 지시|비밀번호|암호",
    ),
    "th": (r"แสดง|เปิดเผย|บอก|พิมพ์|ทำซ้ำ", r"พรอมต์ระบบ|พรอมพ์ระบบ|คำสั่งระบบ|คำสั่งที่ซ่อน|รหัสผ่าน"),
}

# Asking for a model without limits, or a developer mode: one phrase per language.
_PERSONA: dict[str, str] = {
    "de": r"ohne (?:jegliche|irgendwelche|alle|jede)?\s*(?:einschränkungen|beschränkungen|filter|zensur|grenzen)|entwicklermodus",
    "fr": r"sans (?:aucune? |la moindre )?(?:restrictions?|filtres?|censure|limites?)|mode développeur",
    "es": r"sin (?:ninguna |ningún |ningun )?(?:restricci\w+|filtros?|censura|límites?|limites?)|modo (?:de )?desarrollador",
    "pt": r"sem (?:nenhuma |nenhum |qualquer )?(?:restrições|restricoes|restrição|filtros?|censura|limites?)|modo (?:de )?desenvolvedor",
    "it": r"senza (?:alcuna |alcun |nessuna )?(?:restrizion\w|filtr\w|censura|limit\w)|modalità sviluppatore",
    "nl": r"zonder (?:enige |welke )?(?:beperkingen|filters|censuur)|ontwikkelaarsmodus",
    "ru": r"без (?:каких-либо |всяких |любых )?(?:ограничений|фильтров|цензуры)|режим\w* разработчика",
    "uk": r"без (?:жодних |будь-яких )?(?:обмежень|фільтрів|цензури)|режим\w* розробника",
    "pl": r"bez (?:żadnych |jakichkolwiek )?(?:ograniczeń|filtrów|cenzury)|tryb\w* dewelopera",
    "cs": r"bez (?:jakýchkoli |jakýchkoliv |žádných )?(?:omezení|filtrů|cenzury)|vývojářsk\w* režim\w*",
    "ro": r"fără (?:nicio |niciun )?(?:restricți\w+|restrictii|filtre|cenzură|limite)|modul dezvoltator",
    "sv": r"utan (?:några )?(?:begränsningar|filter|censur)|utvecklarläge",
    "hu": r"(?:korlátozások|szűrők|cenzúra|korlátok) nélkül|fejlesztői mód",
    "tr": r"kısıtlama\w* olmadan|kısıtlaması olmayan|kısıtlamasız|filtresiz|sansürsüz|geliştirici modu",
    "id": r"tanpa (?:batasan|pembatasan|filter|sensor)|mode pengembang",
    "vi": r"không (?:có )?(?:bất kỳ |bất cứ )?(?:giới hạn|hạn chế|bộ lọc|kiểm duyệt) nào|chế độ nhà phát triển",
    "sw": r"bila (?:vikwazo|vizuizi|vichujio|udhibiti)|hali ya msanidi",
    "el": r"χωρίς (?:κανέναν |κανένα |καθόλου )?(?:περιορισμ\w+|φίλτρ\w+|λογοκρισία)|λειτουργία προγραμματιστή",
    "he": r"ללא (?:שום |כל )?(?:הגבלות|מגבלות|סינון|צנזורה)|בלי (?:שום )?(?:הגבלות|מגבלות)|מצב מפתח",
    "ar": r"(?:بدون|دون|بلا) (?:أي |اي )?(?:قيود|فلاتر|رقابة|حدود)|وضع المطور",
    "fa": r"بدون (?:هیچ )?(?:محدودیت|فیلتر|سانسور)|حالت توسعه",
    "ur": r"بغیر (?:کسی )?(?:پابندی|فلٹر|سنسر)|کسی پابندی کے بغیر|کوئی (?:پابندی|فلٹر) نہیں|ڈویلپر موڈ",
    "hi": r"बिना (?:किसी )?(?:प्रतिबंध|पाबंदी|फ़िल्टर|फिल्टर|सेंसर|रोक)|डेवलपर मोड",
    "bn": r"(?:কোনো|কোন) (?:সীমাবদ্ধতা|বিধিনিষেধ|ফিল্টার) (?:ছাড়া|নেই)|ডেভেলপার মোড",
    "zh": r"没有任何限制|沒有任何限制|没有(?:任何)?(?:限制|过滤|審查|审查)|不受(?:任何)?限制|无限制|無限制|无审查|無審查|开发者模式|開發者模式",
    "ja": r"制限(?:のない|なし|なく|を解除|がない)|フィルター(?:なし|のない|がない|はありません)|開発者モード",
    "ko": r"제한 없는|제한이 없는|제한 없이|필터 없이|검열 없이|개발자 모드",
    "th": r"ไม่มีข้อจำกัด|ไม่มีตัวกรอง|โหมดนักพัฒนา",
}

# Forbidding the model to refuse.
_NO_REFUSAL: dict[str, str] = {
    "de": r"(?:lehne|lehnen sie) (?:\w+ ){0,3}niemals (?:\w+ ){0,3}ab|verweiger\w* niemals|niemals ablehnen",
    "fr": r"ne (?:refuse|refusez) jamais",
    "es": r"nunca (?:rechaces|te niegues|se niegue|rechace)|no te niegues nunca",
    "pt": r"nunca (?:recuse|se recuse|negue)",
    "it": r"non rifiutare mai|mai rifiutare",
    "nl": r"weiger nooit",
    "ru": r"никогда не отказыва\w*",
    "uk": r"ніколи не відмовляй\w*",
    "pl": r"nigdy nie odmawiaj\w*",
    "cs": r"nikdy neodmítej\w*",
    "ro": r"nu refuza niciodată|să nu refuzi niciodată",
    "sv": r"vägra aldrig",
    "hu": r"soha ne utasítsd el",
    "tr": r"asla reddetme",
    "id": r"jangan pernah menolak",
    "vi": r"không bao giờ từ chối",
    "sw": r"usikatae kamwe|kamwe usikatae",
    "el": r"μην αρνηθείς ποτέ|ποτέ μην αρνείσαι",
    "he": r"לעולם אל תסרב",
    "ar": r"لا ترفض أبدا|لا ترفض أبدًا|لا ترفض ابدا",
    "fa": r"هرگز رد نکن|هرگز امتناع نکن",
    "hi": r"कभी (?:मना|इनकार|इंकार) मत कर",
    "zh": r"决不拒绝|絕不拒絕|永远不要拒绝|永遠不要拒絕|不要拒绝|不要拒絕|不得拒绝",
    "ja": r"決して断ら|断らないで|拒否しないで",
    "ko": r"절대 거절하지|거부하지 마",
    "th": r"อย่าปฏิเสธ",
}

# A secret the assistant is told to keep, named as such ("the secret password"): asking for one is extraction.
_SECRET: dict[str, str] = {
    "de": r"geheime\w* (?:passwort|kennwort|schlüssel|code)",
    "fr": r"mot de passe secret|clé secrète|code secret",
    "es": r"contraseña secreta|clave secreta|código secreto",
    "pt": r"senha secreta|chave secreta|código secreto",
    "it": r"password segreta|chiave segreta|codice segreto",
    "nl": r"geheime (?:wachtwoord|sleutel|code)",
    "ru": r"секретн\w* (?:пароль|ключ|код|слово)",
    "uk": r"секретн\w* (?:пароль|ключ|код|слово)",
    "pl": r"tajne hasło|tajny (?:klucz|kod)",
    "cs": r"tajné heslo|tajný (?:klíč|kód)",
    "ro": r"parola secretă|parola secreta|cheia secretă",
    "sv": r"hemliga lösenord\w*|hemliga nyckeln",
    "hu": r"titkos (?:jelszó|kulcs|kód)",
    "tr": r"gizli şifre\w*|gizli parola\w*|gizli anahtar\w*",
    "id": r"kata sandi rahasia|kunci rahasia|kode rahasia",
    "vi": r"mật khẩu bí mật|khóa bí mật|mã bí mật",
    "sw": r"nenosiri la siri|neno la siri",
    "el": r"μυστικό\w* κωδικό\w*|μυστικός κωδικός",
    "he": r"הסיסמה הסודית|הסיסמא הסודית|המפתח הסודי",
    "ar": r"كلمة المرور السرية|كلمة السر|المفتاح السري",
    "fa": r"رمز عبور (?:مخفی|سری)|کلید (?:مخفی|سری)",
    "ur": r"خفیہ پاس ورڈ|خفیہ کوڈ",
    "hi": r"गुप्त पासवर्ड|गुप्त कोड|सीक्रेट पासवर्ड",
    "bn": r"গোপন পাসওয়ার্ড|গোপন কোড",
    "zh": r"秘密密码|秘密密碼|密钥|密鑰|暗号|暗號",
    "ja": r"秘密のパスワード|秘密の合言葉|秘密鍵",
    "ko": r"비밀 비밀번호|비밀 암호|비밀 키",
    "th": r"รหัสผ่านลับ|รหัสลับ",
}

# Claiming authority over the assistant: "I am your administrator / developer".
_AUTHORITY: dict[str, str] = {
    "de": r"ich bin (?:dein|ihr) (?:administrator|admin|entwickler|schöpfer|programmierer)",
    "fr": r"je suis (?:ton|votre) (?:administrateur|admin|développeur|créateur|programmeur)",
    "es": r"soy (?:tu|su) (?:administrador|admin|desarrollador|creador|programador)",
    "pt": r"sou (?:o )?(?:seu|teu) (?:administrador|admin|desenvolvedor|criador|programador)",
    "it": r"sono il (?:tuo|suo) (?:amministratore|admin|sviluppatore|creatore|programmatore)",
    "nl": r"ik ben (?:je|jouw|uw) (?:beheerder|admin|ontwikkelaar|maker|programmeur)",
    "ru": r"я (?:твой|ваш) (?:администратор|админ|разработчик|создатель|программист)",
    "uk": r"я (?:твій|ваш) (?:адміністратор|адмін|розробник|творець|програміст)",
    "pl": r"jestem (?:twoim|waszym) (?:administratorem|adminem|deweloperem|twórcą|programistą)",
    "cs": r"jsem (?:tvůj|váš) (?:administrátor|admin|vývojář|tvůrce|programátor)",
    "ro": r"sunt (?:administratorul|adminul|dezvoltatorul|creatorul|programatorul) (?:tău|dumneavoastră)",
    "sv": r"jag är din (?:administratör|admin|utvecklare|skapare|programmerare)",
    "hu": r"én vagyok a (?:rendszergazdád|fejlesztőd|készítőd)",
    "tr": r"(?:ben )?senin (?:yöneticin|geliştiricin|yaratıcın|programcın)(?:im|ım)?",
    "id": r"saya (?:adalah )?(?:administrator|admin|pengembang|pembuat|pencipta)(?:mu| kamu| anda)",
    "vi": r"tôi là (?:quản trị viên|nhà phát triển|người tạo ra|lập trình viên) của bạn",
    "sw": r"mimi ni (?:msimamizi|msanidi|muundaji|mtengenezaji) wako",
    "el": r"είμαι ο (?:διαχειριστής|προγραμματιστής|δημιουργός) σου",
    "he": r"אני (?:המנהל|המפתח|היוצר|המתכנת) שלך",
    "ar": r"أنا (?:المسؤول عنك|مطورك|مديرك|منشئك|المطور الخاص بك|مسؤول النظام)",
    "fa": r"من (?:مدیر|توسعه‌دهنده|سازنده|برنامه‌نویس) تو هستم",
    "ur": r"میں (?:تمہارا|آپ کا) (?:ایڈمنسٹریٹر|ایڈمن|ڈویلپر|بنانے والا)",
    "hi": r"मैं (?:तुम्हारा|आपका) (?:एडमिनिस्ट्रेटर|एडमिन|डेवलपर|निर्माता|प्रोग्रामर)",
    "bn": r"আমি (?:তোমার|আপনার) (?:অ্যাডমিনিস্ট্রেটর|অ্যাডমিন|ডেভেলপার|নির্মাতা)",
    "zh": r"我是你的(?:管理员|管理員|开发者|開發者|开发人员|開發人員|创造者|創造者)",
    "ja": r"(?:私|僕|俺|わたし)は(?:あなた|君|きみ|お前)の(?:管理者|開発者|作成者|製作者)",
    "ko": r"(?:나는|저는) (?:너의|당신의|네) (?:관리자|개발자|제작자)",
    "th": r"(?:ฉัน|ผม)(?:เป็น|คือ)(?:ผู้ดูแลระบบ|ผู้พัฒนา|ผู้สร้าง)ของคุณ",
}

# One's own secret or hidden instructions, named with "your": asking for them in any words is extraction ("… including
# your secret instructions").
_YOUR_SECRET_INSTRUCTIONS: dict[str, str] = {
    "de": r"(?:deine|ihre)[nr]? (?:geheimen|versteckten|verborgenen) (?:anweisungen|instruktionen|vorgaben)",
    "fr": r"(?:tes|vos) (?:instructions|consignes) (?:secrètes|cachées)",
    "es": r"(?:tus|sus) (?:instrucciones|indicaciones) (?:secretas|ocultas)",
    "pt": r"(?:suas|tuas) instruções (?:secretas|ocultas)",
    "it": r"(?:le tue|le sue) istruzioni (?:segrete|nascoste)",
    "nl": r"(?:je|jouw|uw) (?:geheime|verborgen) instructies",
    "ru": r"(?:твои|ваши|свои) (?:секретн|скрыт|тайн)\w* инструкци\w*",
    "uk": r"(?:твої|ваші|свої) (?:секретн|приховані|таємн)\w* інструкці\w*",
    "pl": r"(?:twoje|swoje) (?:tajne|ukryte) instrukcj\w*",
    "tr": r"gizli talimatların\w*",
    "id": r"(?:instruksi|petunjuk) (?:rahasia|tersembunyi)(?:mu| kamu| anda)",
    "vi": r"(?:hướng dẫn|chỉ dẫn|chỉ thị) (?:bí mật|ẩn) của bạn",
    "ar": r"تعليماتك (?:السرية|المخفية)",
    "fa": r"دستورالعمل\w* (?:مخفی|سری|پنهان) (?:تو|شما)",
    "hi": r"(?:अपने|तुम्हारे|आपके) (?:गुप्त|छिपे हुए|छुपे हुए) निर्देश",
    "zh": r"你的(?:秘密|隐藏|隱藏)(?:的)?(?:指令|指示)",
    "ja": r"(?:あなた|君|きみ)の(?:秘密の|隠された|隠れた)指示",
    "ko": r"(?:너의|네|당신의) (?:비밀|숨겨진) 지시",
}

# "Stop following the rules", where the object sits inside the verb phrase ("hör auf, deine Richtlinien zu befolgen":
# "hör auf" alone is any "stop", "zu befolgen" alone any "to follow").
_STOP_FOLLOWING: dict[str, str] = {
    "de": r"hör\w* auf,? (?:\S+ ){0,3}(?:richtlinien|regeln|anweisungen|vorgaben|befehlen?) zu (?:befolgen|beachten|folgen)",
}

# Switching the safety rules off, where the language's "drop" verbs above do not say it: verbs for "turn off" with
# objects that name safety rules or filters only ("turn off safe mode on my phone" is ordinary).
_SAFETY_OFF: dict[str, tuple[str, str]] = {
    "zh": (
        r"关闭|關閉|关掉|關掉|解除|取消",
        r"安全规则|安全規則|安全限制|安全过滤|安全過濾|内容过滤|內容過濾|审查|審查",
    ),
    "ja": (
        r"オフに|無効に|解除|外し|切っ",
        r"安全(?:性)?(?:ルール|規則|制限|フィルター)|セーフティ(?:ルール|フィルター)|検閲",
    ),
    "ko": (r"끄고|꺼|끄라|끄세요|비활성화|해제", r"안전 규칙|안전 필터|안전 제한|안전장치|검열"),
    "hi": (r"बंद कर\S*|हटा द\S*|हटाओ", r"सुरक्षा नियम\S*|सुरक्षा फ़िल्टर|सुरक्षा फिल्टर|सुरक्षा प्रतिबंध\S*|सेंसरशिप"),
}

_PASSWORD = re.compile(
    "passwor|kennwort|mot de passe|contraseña|clave|senha|wachtwoord|пароль|hasło|heslo|parola|lösenord|jelsz|şifre|"
    "sandi|mật khẩu|nenosiri|siri|κωδικ|συνθηματικ|סיסמ|كلمة|رمز|پاس|पासवर्ड|পাসওয়ার্ড|கடவுச்சொல்|పాస్|密码|密碼|口令|"
    "パスワード|合言葉|비밀번호|암호|รหัสผ่าน"
)

# Scripts without spaces between words put a verb and its object next to each other; others allow a few words.
_NO_SPACES = frozenset({"zh", "ja", "th"})
_CLITICS = frozenset({"he", "ar", "fa", "ur"})
_PARTICLES = frozenset({"ko"})


def _norm(pattern: str) -> str:
    # The text is read NFKC-normalised (e.g. Devanagari nukta letters decomposed) and without invisible joiners
    # (Persian writes a zero-width non-joiner inside words), so the patterns are too.
    return unicodedata.normalize("NFKC", pattern).replace("\u200c", "").replace("\u200d", "")


def _near(lang: str, verbs: str, objects: str) -> str:
    if lang in _NO_SPACES:
        # Thai words are several characters long; a Chinese or Japanese object takes its modifiers before it
        # ("抛弃之前给你的所有指示": "discard all the instructions given to you before")
        gap = r".{0,12}" if lang == "th" else r".{0,8}"
    elif lang in _CLITICS:  # a one- or two-letter prefix ("and", "from", "the") is written onto the next word
        gap = r"[,،]?\s+(?:\S+\s+){0,6}\S{0,2}"
    elif lang in _PARTICLES:  # a particle written onto the noun before the space ("지침을 따르지 말고")
        gap = r"\S{0,3}\s+(?:\S+\s+){0,6}"
    else:  # a comma may close the first part ("hör auf, deine Richtlinien …")
        gap = r",?\s+(?:\S+\s+){0,6}"
    return _norm(f"(?:{verbs}){gap}(?:{objects})|(?:{objects}){gap}(?:{verbs})")


def override_patterns() -> list[str]:
    """Patterns for "ignore / forget the instructions (the above, the system prompt)" in each language."""
    out = []
    for lang, (verbs, objects) in _OVERRIDE.items():
        more = [objects]
        if lang in _ABOVE:
            more.append(_ABOVE[lang])
        if lang in _EXTRACTION:  # the system prompt and hidden instructions are things to ignore too (not a
            # password: "I forgot my password" is no attack)
            more += [a for a in alternatives(_EXTRACTION[lang][1]) if not _PASSWORD.search(_norm(a))]
        out.append(_near(lang, verbs, "|".join(more)))
    # dropping "the above / what came before" is overriding too ("抛弃之前给你的所有指示")
    out += [
        _near(lang, verbs, f"{objects}|{_ABOVE[lang]}" if lang in _ABOVE else objects)
        for lang, (verbs, objects) in _DROP.items()
    ]
    out += [_near(lang, verbs, objects) for lang, (verbs, objects) in _SAFETY_OFF.items()]
    out += [_norm(p) for p in _STOP_FOLLOWING.values()]
    return out


def extraction_patterns() -> list[str]:
    """Patterns for "show me the system prompt / the password" and "the secret password" in each language."""
    return (
        [_near(lang, v, o) for lang, (v, o) in _EXTRACTION.items()]
        + [_norm(p) for p in _SECRET.values()]
        + [_norm(p) for p in _YOUR_SECRET_INSTRUCTIONS.values()]
    )


def mentions_password(text: str) -> bool:
    """True when a lowercased text names a password in one of the languages above."""
    return _PASSWORD.search(text) is not None


def authority_patterns() -> list[str]:
    """Patterns for "I am your administrator / developer" in each language (lowercased text)."""
    return [_norm(p) for p in _AUTHORITY.values()]


def persona_patterns() -> list[str]:
    """Patterns for "without restrictions" and "developer mode" in each language (lowercased text)."""
    return [_norm(p) for p in _PERSONA.values()]


def no_refusal_patterns() -> list[str]:
    """Patterns for "never refuse" in each language (lowercased text)."""
    return [_norm(p) for p in _NO_REFUSAL.values()]


LANGUAGES = tuple(sorted(set(_OVERRIDE) | set(_EXTRACTION)))
