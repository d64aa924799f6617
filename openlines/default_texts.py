# ruff: noqa: RUF001, E501  (natural-language data: non-Latin letters, dashes and long sentences)
"""Default client-facing texts and system messages of a line, in the six supported languages.

These are not gettext catalogues on purpose: a line speaks its own `language_id` to its clients,
whatever language the agent or administrator uses in the interface.

Macros (`#NAME#`) stay untranslated and are replaced by the engine:
- `agent_joined`: #USER#; `transfer`: #USER_FROM#, #USER_TO#; `queue_forward`: #USER_TO#;
  `enquiry_redirected_crm`: #USER#; `queue_position`: #POSITION#; `agreement_notice`: #AGREEMENT#
  (a link to the agreement); `crm_tracker_found` / `crm_tracker_created`: #TITLE# (the CRM records);
  `crm_lead_created`: #USER#, #TITLE#; `kpi_first_answer` / `kpi_further_answer`: #OPERATOR#, #DIALOG#.
"""

from __future__ import annotations

LANGUAGE_CODES: tuple[str, ...] = ("en", "cs", "ru", "it", "vi", "pl")
FALLBACK_LANGUAGE = "en"

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "welcome": "Hello! Thank you for contacting us. The first available agent will reply to you shortly.",
        "no_answer": (
            "Unfortunately, we cannot respond to you at the moment. "
            "We will get back to you as soon as possible."
        ),
        "worktime_dayoff": (
            "Thank you for your message. We are not available right now; "
            "we will reply during our working hours."
        ),
        "close": "Thank you for reaching out! If you have any more questions, just write to us.",
        "auto_close": (
            "This conversation has been closed because there was no activity. "
            "If you still need help, just write to us again."
        ),
        "vote_message_1_text": "Please rate the quality of our service.",
        "vote_message_1_like": "Thank you for your rating!",
        "vote_message_1_dislike": "We are sorry we could not help you. We will try to do better.",
        "vote_message_2_text": "Please rate the quality of our service. Send: 1 - good, 0 - bad",
        "vote_message_2_like": "Thank you for your rating!",
        "vote_message_2_dislike": "We are sorry we could not help you. We will try to do better.",
        "agreement_notice": (
            "By continuing this conversation you agree to the processing of your personal data: #AGREEMENT#"
        ),
        "line_inactive": "Sorry, this channel is not active at the moment. Please contact us another way.",
        "kpi_first_answer": "#OPERATOR# exceeded the first response time in conversation #DIALOG#",
        "kpi_further_answer": "#OPERATOR# exceeded the response time in conversation #DIALOG#",
        "session_started": "New conversation started",
        "agent_joined": "#USER# picked conversation",
        "transfer": "#USER_FROM# transferred the conversation to #USER_TO#",
        "queue_forward": "Enquiry transferred to #USER_TO# according to queuing rules",
        "session_closed": "Conversation closed",
        "reopened": "Conversation reopened",
        "enquiry_redirected_crm": "Enquiry redirected to #USER# (CRM's responsible person)",
        "no_agents_available": "Enquiry has been returned to the queue because no agents are available",
        "vote_refused": "Sorry, the time for rating this conversation has passed.",
        "queue_position": "You are number #POSITION# in the queue. An agent will reply as soon as possible.",
        "agent_skipped": "#USER# rejected the conversation",
        "intercepted": "#USER_1# took the conversation from #USER_2#",
        "participant_joined": "#USER# joined the conversation",
        "closed_by_another": "#USER# ended the current conversation",
        "bot_forwarded": "The chat bot forwarded the conversation to an agent",
        "agent_unavailable": "#USER# is not available; the enquiry went back to the queue",
        "crm_tracker_found": "The client was found in the CRM: #TITLE#",
        "crm_tracker_created": "Created in the CRM from the client's details: #TITLE#",
        "crm_lead_created": "#USER# created the lead #TITLE#",
    },
    "cs": {
        "welcome": "Dobrý den! Děkujeme, že jste nás kontaktovali. První volný operátor vám brzy odpoví.",
        "no_answer": "Bohužel vám momentálně nemůžeme odpovědět. Ozveme se vám co nejdříve.",
        "worktime_dayoff": (
            "Děkujeme za vaši zprávu. Momentálně nejsme k dispozici, odpovíme vám v naší pracovní době."
        ),
        "close": "Děkujeme, že jste se na nás obrátili! Pokud budete mít další dotazy, stačí nám napsat.",
        "auto_close": (
            "Tato konverzace byla uzavřena, protože v ní nebyla žádná aktivita. "
            "Pokud stále potřebujete pomoc, napište nám znovu."
        ),
        "vote_message_1_text": "Ohodnoťte prosím kvalitu našich služeb.",
        "vote_message_1_like": "Děkujeme za vaše hodnocení!",
        "vote_message_1_dislike": "Je nám líto, že jsme vám nepomohli. Pokusíme se to zlepšit.",
        "vote_message_2_text": "Ohodnoťte prosím kvalitu našich služeb. Pošlete: 1 – dobré, 0 – špatné",
        "vote_message_2_like": "Děkujeme za vaše hodnocení!",
        "vote_message_2_dislike": "Je nám líto, že jsme vám nepomohli. Pokusíme se to zlepšit.",
        "agreement_notice": (
            "Pokračováním v konverzaci souhlasíte se zpracováním svých osobních údajů: #AGREEMENT#"
        ),
        "line_inactive": (
            "Omlouváme se, tento kanál momentálně není aktivní. Kontaktujte nás prosím jiným způsobem."
        ),
        "kpi_first_answer": "#OPERATOR# překročil(a) limit pro první odpověď v konverzaci #DIALOG#",
        "kpi_further_answer": "#OPERATOR# překročil(a) limit pro odpověď v konverzaci #DIALOG#",
        "session_started": "Byla zahájena nová konverzace",
        "agent_joined": "#USER# převzal(a) konverzaci",
        "transfer": "#USER_FROM# předal(a) konverzaci uživateli #USER_TO#",
        "queue_forward": "Dotaz byl podle pravidel fronty předán uživateli #USER_TO#",
        "session_closed": "Konverzace byla uzavřena",
        "reopened": "Konverzace byla znovu otevřena",
        "enquiry_redirected_crm": "Dotaz byl přesměrován na #USER# (odpovědná osoba v CRM)",
        "no_agents_available": "Dotaz byl vrácen do fronty, protože není k dispozici žádný operátor",
        "vote_refused": "Omlouváme se, čas na hodnocení této konverzace již vypršel.",
        "queue_position": "Ve frontě jste na #POSITION#. místě. Operátor vám odpoví co nejdříve.",
        "agent_skipped": "#USER# odmítl(a) konverzaci",
        "intercepted": "#USER_1# převzal(a) konverzaci od #USER_2#",
        "participant_joined": "#USER# se připojil(a) ke konverzaci",
        "closed_by_another": "#USER# ukončil(a) aktuální konverzaci",
        "bot_forwarded": "Chatbot předal konverzaci operátorovi",
        "agent_unavailable": "#USER# není k dispozici; dotaz se vrátil do fronty",
        "crm_tracker_found": "Klient byl nalezen v CRM: #TITLE#",
        "crm_tracker_created": "V CRM bylo podle údajů klienta vytvořeno: #TITLE#",
        "crm_lead_created": "#USER# vytvořil(a) lead #TITLE#",
    },
    "ru": {
        "welcome": (
            "Здравствуйте! Спасибо, что обратились к нам. Первый освободившийся оператор скоро вам ответит."
        ),
        "no_answer": "К сожалению, сейчас мы не можем вам ответить. Мы свяжемся с вами как можно скорее.",
        "worktime_dayoff": "Спасибо за сообщение. Сейчас мы не работаем, ответим вам в рабочее время.",
        "close": "Спасибо за обращение! Если у вас появятся вопросы, просто напишите нам.",
        "auto_close": (
            "Диалог закрыт, так как в нём долго не было активности. "
            "Если вам всё ещё нужна помощь, напишите нам снова."
        ),
        "vote_message_1_text": "Пожалуйста, оцените качество нашего обслуживания.",
        "vote_message_1_like": "Спасибо за вашу оценку!",
        "vote_message_1_dislike": "Нам жаль, что мы не смогли вам помочь. Мы постараемся стать лучше.",
        "vote_message_2_text": "Пожалуйста, оцените качество нашего обслуживания. Отправьте: 1 — хорошо, 0 — плохо",
        "vote_message_2_like": "Спасибо за вашу оценку!",
        "vote_message_2_dislike": "Нам жаль, что мы не смогли вам помочь. Мы постараемся стать лучше.",
        "agreement_notice": "Продолжая диалог, вы соглашаетесь на обработку персональных данных: #AGREEMENT#",
        "line_inactive": "Извините, этот канал сейчас не работает. Пожалуйста, свяжитесь с нами другим способом.",
        "kpi_first_answer": "#OPERATOR# превысил(а) время первого ответа в диалоге #DIALOG#",
        "kpi_further_answer": "#OPERATOR# превысил(а) время ответа в диалоге #DIALOG#",
        "session_started": "Начат новый диалог",
        "agent_joined": "#USER# принял(а) диалог",
        "transfer": "#USER_FROM# передал(а) диалог сотруднику #USER_TO#",
        "queue_forward": "Обращение передано сотруднику #USER_TO# согласно правилам очереди",
        "session_closed": "Диалог закрыт",
        "reopened": "Диалог снова открыт",
        "enquiry_redirected_crm": "Обращение перенаправлено сотруднику #USER# (ответственный в CRM)",
        "no_agents_available": "Обращение возвращено в очередь, так как нет доступных операторов",
        "vote_refused": "Извините, время для оценки этого диалога истекло.",
        "queue_position": "Ваш номер в очереди: #POSITION#. Оператор ответит вам как можно скорее.",
        "agent_skipped": "#USER# отказался от диалога",
        "intercepted": "#USER_1# забрал диалог у #USER_2#",
        "participant_joined": "#USER# присоединился к диалогу",
        "closed_by_another": "#USER# завершил текущий диалог",
        "bot_forwarded": "Чат-бот передал диалог оператору",
        "agent_unavailable": "#USER# недоступен; обращение возвращено в очередь",
        "crm_tracker_found": "Клиент найден в CRM: #TITLE#",
        "crm_tracker_created": "В CRM по данным клиента создано: #TITLE#",
        "crm_lead_created": "#USER# создал(а) лид #TITLE#",
    },
    "it": {
        "welcome": (
            "Salve! Grazie per averci contattato. Il primo operatore disponibile le risponderà a breve."
        ),
        "no_answer": "Purtroppo al momento non possiamo risponderle. La ricontatteremo il prima possibile.",
        "worktime_dayoff": (
            "Grazie per il suo messaggio. Al momento non siamo disponibili; "
            "le risponderemo durante il nostro orario di lavoro."
        ),
        "close": "Grazie per averci contattato! Se ha altre domande, ci scriva pure.",
        "auto_close": (
            "Questa conversazione è stata chiusa per inattività. Se ha ancora bisogno di aiuto, ci scriva di nuovo."
        ),
        "vote_message_1_text": "Valuti la qualità del nostro servizio, per favore.",
        "vote_message_1_like": "Grazie per la sua valutazione!",
        "vote_message_1_dislike": "Ci dispiace non esserle stati d'aiuto. Cercheremo di fare meglio.",
        "vote_message_2_text": "Valuti la qualità del nostro servizio. Invii: 1 - buono, 0 - scarso",
        "vote_message_2_like": "Grazie per la sua valutazione!",
        "vote_message_2_dislike": "Ci dispiace non esserle stati d'aiuto. Cercheremo di fare meglio.",
        "agreement_notice": (
            "Proseguendo la conversazione acconsente al trattamento dei suoi dati personali: #AGREEMENT#"
        ),
        "line_inactive": (
            "Siamo spiacenti, questo canale al momento non è attivo. La preghiamo di contattarci in un altro modo."
        ),
        "kpi_first_answer": "#OPERATOR# ha superato il tempo di prima risposta nella conversazione #DIALOG#",
        "kpi_further_answer": "#OPERATOR# ha superato il tempo di risposta nella conversazione #DIALOG#",
        "session_started": "Nuova conversazione avviata",
        "agent_joined": "#USER# ha preso in carico la conversazione",
        "transfer": "#USER_FROM# ha trasferito la conversazione a #USER_TO#",
        "queue_forward": "Richiesta trasferita a #USER_TO# secondo le regole della coda",
        "session_closed": "Conversazione chiusa",
        "reopened": "Conversazione riaperta",
        "enquiry_redirected_crm": "Richiesta inoltrata a #USER# (responsabile nel CRM)",
        "no_agents_available": "Richiesta rimessa in coda perché non ci sono operatori disponibili",
        "vote_refused": "Siamo spiacenti, il tempo per valutare questa conversazione è scaduto.",
        "queue_position": (
            "La sua posizione in coda: #POSITION#. Un operatore le risponderà il prima possibile."
        ),
        "agent_skipped": "#USER# ha rifiutato la conversazione",
        "intercepted": "#USER_1# ha preso la conversazione da #USER_2#",
        "participant_joined": "#USER# si è unito alla conversazione",
        "closed_by_another": "#USER# ha chiuso la conversazione corrente",
        "bot_forwarded": "Il chatbot ha inoltrato la conversazione a un operatore",
        "agent_unavailable": "#USER# non è disponibile; la richiesta è tornata in coda",
        "crm_tracker_found": "Il cliente è stato trovato nel CRM: #TITLE#",
        "crm_tracker_created": "Creato nel CRM dai dati del cliente: #TITLE#",
        "crm_lead_created": "#USER# ha creato il lead #TITLE#",
    },
    "vi": {
        "welcome": (
            "Xin chào! Cảm ơn bạn đã liên hệ với chúng tôi. "
            "Nhân viên hỗ trợ đầu tiên rảnh sẽ trả lời bạn trong giây lát."
        ),
        "no_answer": (
            "Rất tiếc, hiện tại chúng tôi chưa thể trả lời bạn. "
            "Chúng tôi sẽ liên hệ lại với bạn sớm nhất có thể."
        ),
        "worktime_dayoff": (
            "Cảm ơn bạn đã nhắn tin. Hiện tại đang ngoài giờ làm việc; "
            "chúng tôi sẽ trả lời bạn trong giờ làm việc."
        ),
        "close": "Cảm ơn bạn đã liên hệ! Nếu bạn còn câu hỏi nào khác, hãy nhắn tin cho chúng tôi.",
        "auto_close": (
            "Cuộc trò chuyện đã được đóng do không có hoạt động. "
            "Nếu bạn vẫn cần hỗ trợ, hãy nhắn tin lại cho chúng tôi."
        ),
        "vote_message_1_text": "Vui lòng đánh giá chất lượng dịch vụ của chúng tôi.",
        "vote_message_1_like": "Cảm ơn bạn đã đánh giá!",
        "vote_message_1_dislike": "Rất tiếc vì chúng tôi chưa giúp được bạn. Chúng tôi sẽ cố gắng làm tốt hơn.",
        "vote_message_2_text": (
            "Vui lòng đánh giá chất lượng dịch vụ của chúng tôi. Gửi: 1 - tốt, 0 - không tốt"
        ),
        "vote_message_2_like": "Cảm ơn bạn đã đánh giá!",
        "vote_message_2_dislike": "Rất tiếc vì chúng tôi chưa giúp được bạn. Chúng tôi sẽ cố gắng làm tốt hơn.",
        "agreement_notice": (
            "Khi tiếp tục cuộc trò chuyện, bạn đồng ý cho chúng tôi xử lý dữ liệu cá nhân của bạn: #AGREEMENT#"
        ),
        "line_inactive": "Xin lỗi, kênh này hiện không hoạt động. Vui lòng liên hệ với chúng tôi bằng cách khác.",
        "kpi_first_answer": "#OPERATOR# đã vượt quá thời gian phản hồi đầu tiên trong cuộc trò chuyện #DIALOG#",
        "kpi_further_answer": "#OPERATOR# đã vượt quá thời gian phản hồi trong cuộc trò chuyện #DIALOG#",
        "session_started": "Cuộc trò chuyện mới đã bắt đầu",
        "agent_joined": "#USER# đã nhận cuộc trò chuyện",
        "transfer": "#USER_FROM# đã chuyển cuộc trò chuyện cho #USER_TO#",
        "queue_forward": "Yêu cầu đã được chuyển cho #USER_TO# theo quy tắc hàng đợi",
        "session_closed": "Cuộc trò chuyện đã đóng",
        "reopened": "Cuộc trò chuyện đã được mở lại",
        "enquiry_redirected_crm": "Yêu cầu đã được chuyển đến #USER# (người phụ trách trong CRM)",
        "no_agents_available": "Yêu cầu đã được đưa trở lại hàng đợi vì không có nhân viên nào sẵn sàng",
        "vote_refused": "Xin lỗi, thời gian đánh giá cuộc trò chuyện này đã hết.",
        "queue_position": (
            "Bạn đang ở vị trí số #POSITION# trong hàng đợi. Nhân viên sẽ trả lời bạn sớm nhất có thể."
        ),
        "agent_skipped": "#USER# đã từ chối cuộc hội thoại",
        "intercepted": "#USER_1# đã nhận cuộc hội thoại từ #USER_2#",
        "participant_joined": "#USER# đã tham gia cuộc hội thoại",
        "closed_by_another": "#USER# đã kết thúc cuộc hội thoại hiện tại",
        "bot_forwarded": "Chatbot đã chuyển cuộc hội thoại cho nhân viên",
        "agent_unavailable": "#USER# không có mặt; yêu cầu đã được đưa lại vào hàng đợi",
        "crm_tracker_found": "Đã tìm thấy khách hàng trong CRM: #TITLE#",
        "crm_tracker_created": "Đã tạo trong CRM từ thông tin của khách hàng: #TITLE#",
        "crm_lead_created": "#USER# đã tạo khách hàng tiềm năng #TITLE#",
    },
    "pl": {
        "welcome": "Dzień dobry! Dziękujemy za kontakt. Pierwszy wolny konsultant wkrótce odpowie.",
        "no_answer": "Niestety nie możemy teraz odpowiedzieć. Skontaktujemy się najszybciej, jak to możliwe.",
        "worktime_dayoff": "Dziękujemy za wiadomość. W tej chwili nie pracujemy – odpowiemy w godzinach pracy.",
        "close": "Dziękujemy za kontakt! Jeśli pojawią się kolejne pytania, po prostu do nas napisz.",
        "auto_close": (
            "Rozmowa została zamknięta z powodu braku aktywności. "
            "Jeśli nadal potrzebujesz pomocy, napisz do nas ponownie."
        ),
        "vote_message_1_text": "Prosimy o ocenę jakości naszej obsługi.",
        "vote_message_1_like": "Dziękujemy za ocenę!",
        "vote_message_1_dislike": "Przykro nam, że nie udało się pomóc. Postaramy się to poprawić.",
        "vote_message_2_text": "Prosimy o ocenę jakości naszej obsługi. Wyślij: 1 – dobrze, 0 – źle",
        "vote_message_2_like": "Dziękujemy za ocenę!",
        "vote_message_2_dislike": "Przykro nam, że nie udało się pomóc. Postaramy się to poprawić.",
        "agreement_notice": (
            "Kontynuując rozmowę, wyrażasz zgodę na przetwarzanie swoich danych osobowych: #AGREEMENT#"
        ),
        "line_inactive": "Przepraszamy, ten kanał jest obecnie nieaktywny. Prosimy o kontakt w inny sposób.",
        "kpi_first_answer": "#OPERATOR# przekroczył(a) czas pierwszej odpowiedzi w rozmowie #DIALOG#",
        "kpi_further_answer": "#OPERATOR# przekroczył(a) czas odpowiedzi w rozmowie #DIALOG#",
        "session_started": "Rozpoczęto nową rozmowę",
        "agent_joined": "#USER# odebrał(a) rozmowę",
        "transfer": "#USER_FROM# przekazał(a) rozmowę do #USER_TO#",
        "queue_forward": "Zapytanie przekazano do #USER_TO# zgodnie z regułami kolejki",
        "session_closed": "Rozmowa zamknięta",
        "reopened": "Rozmowa została ponownie otwarta",
        "enquiry_redirected_crm": "Zapytanie przekierowano do #USER# (osoba odpowiedzialna w CRM)",
        "no_agents_available": "Zapytanie wróciło do kolejki, ponieważ żaden konsultant nie jest dostępny",
        "vote_refused": "Przepraszamy, czas na ocenę tej rozmowy już minął.",
        "queue_position": "Twoje miejsce w kolejce: #POSITION#. Konsultant odpowie najszybciej, jak to możliwe.",
        "agent_skipped": "#USER# odrzucił(a) rozmowę",
        "intercepted": "#USER_1# przejął(-ęła) rozmowę od #USER_2#",
        "participant_joined": "#USER# dołączył(a) do rozmowy",
        "closed_by_another": "#USER# zakończył(a) bieżącą rozmowę",
        "bot_forwarded": "Czatbot przekazał rozmowę konsultantowi",
        "agent_unavailable": "#USER# jest niedostępny(-a); zapytanie wróciło do kolejki",
        "crm_tracker_found": "Klient został znaleziony w CRM: #TITLE#",
        "crm_tracker_created": "Utworzono w CRM na podstawie danych klienta: #TITLE#",
        "crm_lead_created": "#USER# utworzył(a) lead #TITLE#",
    },
}

TEXT_KEYS: tuple[str, ...] = tuple(_TEXTS[FALLBACK_LANGUAGE])


def default_text(key: str, language: str) -> str:
    """The default text `key` in `language` (first two letters used); English for unknown languages.

    Raises KeyError for an unknown key, so a typo in the engine fails loudly in tests.
    """
    texts = _TEXTS.get((language or FALLBACK_LANGUAGE)[:2].lower(), _TEXTS[FALLBACK_LANGUAGE])
    if key not in _TEXTS[FALLBACK_LANGUAGE]:
        raise KeyError(key)
    return texts.get(key) or _TEXTS[FALLBACK_LANGUAGE][key]


def default_texts_for(language: str) -> dict[str, str]:
    """All default texts of one language (used by the line form to swap texts when the language changes)."""
    return {key: default_text(key, language) for key in TEXT_KEYS}
