// paperatlas: the Ask page's written answer, streamed from /ask/stream (server-sent
// events: evidence, delta..., answer; failure when the model's endpoint fails).
(() => {
  const box = document.querySelector("[data-stream]");
  if (!box) return;
  const text = box.querySelector(".written-text");
  const status = box.querySelector(".written-status");
  const source = new EventSource(box.dataset.stream);
  let links = [];
  let done = false;
  const finish = (message) => {
    done = true;
    source.close();
    box.removeAttribute("aria-busy");
    status.textContent = message;
  };
  source.addEventListener("evidence", (event) => {
    links = JSON.parse(event.data).links || [];
  });
  source.addEventListener("delta", (event) => {
    text.textContent += JSON.parse(event.data).text;
  });
  source.addEventListener("answer", (event) => {
    const answer = JSON.parse(event.data).answer;
    text.replaceChildren();
    for (const sentence of answer.sentences || []) {
      const span = document.createElement("span");
      span.className = "written-sentence " + sentence.status;
      if (sentence.status !== "cited") {
        span.title = sentence.status === "uncited" ? "cites no evidence"
          : "cites evidence it was not given: " + sentence.invalid.join(", ");
      }
      span.append(sentence.text);
      for (const n of sentence.citations) {
        const a = document.createElement("a");
        a.className = "marker";
        a.href = links[n - 1] || "#";
        a.textContent = "[" + n + "]";
        span.append(" ", a);
      }
      text.append(span, " ");
    }
    let message = answer.abstained ? answer.message : "";
    if (answer.citation_precision !== null && answer.citation_precision !== undefined) {
      message += (message ? " · " : "") + "citation precision " +
        answer.citation_precision.toFixed(2);
    }
    const flagged = (answer.sentences || []).filter((s) => s.status !== "cited").length;
    if (flagged) message += " · " + flagged + " sentence" + (flagged > 1 ? "s" : "") +
      " not backed by a citation (marked)";
    finish(message || "Done.");
  });
  source.addEventListener("failure", (event) => {
    finish("The model could not answer: " + JSON.parse(event.data).message);
  });
  source.onerror = () => { if (!done) finish("The connection to the server was lost."); };
})();
