// Faultline dashboard: the only script. Copy buttons for DSNs, snippets, new tokens and an issue as
// Markdown. Everything works without it: the text to copy is on the page.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const text = (source instanceof HTMLTextAreaElement ? source.value : source.innerText).trim();
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    if (source instanceof HTMLTextAreaElement) {
      source.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1200);
});
