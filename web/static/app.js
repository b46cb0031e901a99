// The review page: one call to /api/explain (prediction + per-word attributions), rendered
// into the label, the probability bar and the shaded review. Served by web/server.py.
"use strict";

const form = document.getElementById("review-form");
const review = document.getElementById("review");
const analyse = document.getElementById("analyse");
const statusLine = document.getElementById("status");
const errorBox = document.getElementById("error");
const result = document.getElementById("result");

function showError(message) {
  result.hidden = true;
  errorBox.textContent = message;
  errorBox.hidden = false;
}

// The server's answer as a readable sentence, whatever went wrong (JSON error, HTML page, nothing).
async function errorMessage(response) {
  const body = await response.text();
  try {
    const parsed = JSON.parse(body);
    if (parsed && (parsed.error || parsed.message)) return `${parsed.error || parsed.message} (HTTP ${response.status})`;
  } catch (ignored) { /* not JSON: fall through */ }
  return `The server answered HTTP ${response.status}${body ? ": " + body.slice(0, 200) : ""}`;
}

// Offsets count Unicode code points (Python string indices); JavaScript strings count UTF-16 units.
function renderWords(text, tokens) {
  const chars = Array.from(text);
  const container = document.getElementById("explained");
  container.replaceChildren();
  const scale = Math.max(1e-9, ...tokens.map((t) => Math.abs(t.attribution)));
  let cursor = 0;
  const gap = (start, end) => {
    const piece = chars.slice(start, end).join("");
    if (!piece) return;
    // A gap with words in it is text the model never read (truncated away); spaces are just spaces.
    if (/\S/.test(piece) && piece.trim().length > 12) {
      const span = document.createElement("span");
      span.className = "unseen";
      span.textContent = piece;
      container.append(span);
    } else {
      container.append(piece);
    }
  };
  for (const token of tokens) {
    if (token.end <= token.start || token.start < cursor) continue;
    gap(cursor, token.start);
    const span = document.createElement("span");
    const strength = Math.abs(token.attribution) / scale;
    const colour = token.attribution >= 0 ? "--positive" : "--negative";
    span.className = "word " + (token.attribution >= 0 ? "pushes-positive" : "pushes-negative");
    span.style.backgroundColor = `rgba(var(${colour}), ${(0.7 * strength).toFixed(3)})`;
    span.title = `${token.token}: ${token.attribution >= 0 ? "+" : ""}${token.attribution.toFixed(3)}`;
    span.dataset.attribution = token.attribution;
    span.textContent = chars.slice(token.start, token.end).join("");
    container.append(span);
    cursor = token.end;
  }
  gap(cursor, chars.length);
}

function renderResult(text, answer) {
  const probability = answer.score;
  const label = document.getElementById("label");
  label.textContent = answer.label;
  label.className = "label " + answer.label;
  const percent = (100 * probability).toFixed(1);
  document.getElementById("bar-fill").style.width = `${percent}%`;
  document.getElementById("bar").setAttribute("aria-valuenow", percent);
  document.getElementById("probability").textContent = `P(positive) = ${percent}%`;
  renderWords(text, answer.tokens || []);
  errorBox.hidden = true;
  result.hidden = false;
}

async function explain(text) {
  analyse.disabled = true;
  statusLine.textContent = "Analysing…";
  try {
    let response;
    try {
      response = await fetch("api/explain", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text }),
      });
    } catch (networkError) {
      throw new Error("The page's server cannot be reached (is `make web` still running?).");
    }
    if (!response.ok) throw new Error(await errorMessage(response));
    const answer = await response.json();
    if (typeof answer.score !== "number" || !answer.label) throw new Error("Unexpected answer from the model server.");
    renderResult(text, answer);
    statusLine.textContent = "";
  } catch (error) {
    statusLine.textContent = "";
    showError(error.message);
  } finally {
    analyse.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  explain(review.value);
});

for (const button of document.querySelectorAll("button.example")) {
  button.addEventListener("click", () => {
    review.value = button.dataset.review;
    explain(review.value);
  });
}
