// The operator console's entry point (an ES module, no build step, nothing from another origin):
// the address after # picks the page; a token comes from the sign-in form or a link's first load.

import { dropTokenFromFragment, forgetToken, onUnauthorized, takeTokenFromFragment, token } from "./api.js";
import { beginView, decoded, el, message, show, toast } from "./dom.js";
import { registerPage } from "./forms.js";
import { jobPage, overview, runPage, showTick, signIn } from "./views.js";

async function route() {
  beginView();  // a page still loading from before draws nothing over this one
  if (!token()) { signIn(null, route); return; }
  document.getElementById("sign-out").hidden = false;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decoded);  // each part once; the query by URLSearchParams
  if (parts.includes(null)) {
    show(message("This is not a valid console address: it has a broken % escape.", "error"),
      el("p", {}, el("a", { href: "#/" }, "← All jobs")));
    return;
  }
  try {
    if (parts.length === 0) { await overview(params); return; }  // it asks for the tick itself
    if (parts[0] === "new") await registerPage();
    else if (parts[0] === "jobs" && parts.length === 2) await jobPage(parts[1], params.get("page"));
    else if (parts[0] === "jobs" && parts[2] === "runs") await runPage(parts[1], parts[3]);
    else show(message("There is no such page.", "error"));
    showTick();
  } catch (error) {
    if (error.status !== 401) show(message(`Error ${error.status || ""}: ${error.message}`, "error"));
  }
}

onUnauthorized((note) => signIn(note, route));
document.getElementById("sign-out").addEventListener("click", () => {
  forgetToken();
  signIn("Signed out.", route);
});
window.addEventListener("hashchange", () => {
  if (dropTokenFromFragment()) toast("A token in a link is read only when the console opens: this one was ignored.");
  route();
});
const note = takeTokenFromFragment();
if (note && !token()) signIn(note, route);
else {
  if (note) toast(note);
  route();
}
