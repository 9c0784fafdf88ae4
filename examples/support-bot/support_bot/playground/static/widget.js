// The support chat widget: posts each question to the chat API with the client's key, shows the
// answer and its sources, and sends the customer's "Was this helpful?" yes or no to the feedback API.
// Plain script, no build step; everything the API says is inserted as text, never as HTML.
(function () {
  "use strict";

  var chat = document.getElementById("chat");
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("message");
  if (!chat || !form || !input || !log) return;

  var apiUrl = chat.dataset.apiUrl;
  var apiKey = chat.dataset.apiKey;
  var client = chat.dataset.client;
  var sessionId = currentSession();

  // One conversation per browser tab: the API groups messages by this id.
  function currentSession() {
    var key = "support-bot-session";
    var id = window.sessionStorage.getItem(key);
    if (!id) {
      id = "web-" + (window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + "-" + Math.random().toString(16).slice(2));
      window.sessionStorage.setItem(key, id);
    }
    return id;
  }

  function post(path, body) {
    return fetch(apiUrl + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Api-Key": apiKey },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
        return data;
      });
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addMessage(role, text) {
    var item = element("li", "msg " + role);
    item.appendChild(element("p", "text", text));
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  function addAnswer(data) {
    var item = addMessage("bot", data.answer);
    item.dataset.answerId = data.answer_id;
    if (data.sources && data.sources.length) {
      var names = data.sources.map(function (s) { return s.title + " › " + s.section; });
      item.appendChild(element("p", "sources", "Sources: " + names.join("; ")));
    }
    item.appendChild(ratingButtons(data.answer_id));
  }

  function ratingButtons(answerId) {
    var box = element("div", "rate");
    box.appendChild(element("span", "rate-question", "Was this helpful?"));
    var up = element("button", "up", "Yes");
    var down = element("button", "down", "No");
    up.type = down.type = "button";
    up.setAttribute("aria-label", "Helpful");
    down.setAttribute("aria-label", "Not helpful");
    var status = element("span", "rate-status");
    [up, down].forEach(function (button) {
      button.addEventListener("click", function () {
        var rating = button === up ? "up" : "down";
        up.disabled = down.disabled = true;
        post("/api/feedback", { answer_id: answerId, rating: rating })
          .then(function () {
            button.setAttribute("aria-pressed", "true");
            status.textContent = "Thanks for your feedback";
          })
          .catch(function (error) {
            up.disabled = down.disabled = false;
            status.textContent = "Feedback not sent: " + error.message;
          });
      });
    });
    box.append(up, down, status);
    return box;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var message = input.value.trim();
    if (!message) return;
    addMessage("user", message);
    input.value = "";
    input.disabled = true;
    var pending = addMessage("bot pending", "…");
    post("/api/chat", { client: client, session_id: sessionId, message: message })
      .then(function (data) {
        pending.remove();
        addAnswer(data);
      })
      .catch(function (error) {
        pending.remove();
        addMessage("bot error", "Sorry, something went wrong (" + error.message + "). Please try again.");
      })
      .finally(function () {
        input.disabled = false;
        input.focus();
      });
  });
})();
