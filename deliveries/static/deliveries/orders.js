// "Copy tracking link": copies the value of the element named by data-copy. Delegated, so it
// also works in the detail panel htmx swaps in.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(source.value);
    button.textContent = "Copied";
  } catch {
    source.select(); // no clipboard permission: leave it selected for Ctrl-C
    button.textContent = "Press Ctrl-C";
  }
  setTimeout(() => { button.textContent = label; }, 1500);
});
