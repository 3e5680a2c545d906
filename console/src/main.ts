/**
 * The console's shell: sign-in, the navigation, the live connection's state, and the current
 * screen, rendered with lit-html (no inline script or style anywhere: the gateway's CSP forbids it).
 */
import { html, nothing, render, type TemplateResult } from "lit-html";
import { createApi, type Me, toProblem, unwrap } from "./api/client";
import { type Auth, createAuth, loadAuthConfig } from "./auth";
import { createLive, type Live, type LiveState } from "./live";
import { parseRoute, type Route } from "./router";
import { approvalsScreen } from "./screens/approvals";
import { auditScreen } from "./screens/audit";
import { changeScreen } from "./screens/change";
import { changesScreen } from "./screens/changes";
import { servicesScreen } from "./screens/services";
import { type Context, problemView, type Screen, type ScreenFactory } from "./ui";

const root = document.getElementById("app") as HTMLElement;
// lit-html renders after what a container holds: drop the loading line first.
root.replaceChildren();

const SCREENS: Record<Route["name"], ScreenFactory> = {
  changes: changesScreen,
  change: changeScreen,
  approvals: approvalsScreen,
  audit: auditScreen,
  services: servicesScreen,
  "not-found": () => ({
    title: "Not found",
    view: () => html`<h1 tabindex="-1">Not found</h1>
      <p>No page here. <a href="#/changes">Go to the changes</a>.</p>`,
    dispose: () => undefined,
  }),
};

const NAV: readonly [Route["name"], string, string][] = [
  ["changes", "#/changes", "Changes"],
  ["approvals", "#/approvals", "Approvals"],
  ["audit", "#/audit", "Audit"],
  ["services", "#/services", "Services"],
];

const LIVE_LABEL: Record<LiveState, string> = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Reconnecting…",
  "signed-out": "Not connected",
};

function signInPage(auth: Auth | null, message: TemplateResult | typeof nothing): TemplateResult {
  return html`<main id="main" class="signin">
    <h1>Wheelhouse</h1>
    <p>The operator's console: every change from request to verified outcome.</p>
    ${message}
    <button
      type="button"
      class="primary"
      ?disabled=${!auth}
      @click=${() => void auth?.signIn(window.location.hash || "#/changes")}
    >
      Sign in
    </button>
  </main>`;
}

function shell(context: Context, route: Route, screen: Screen, live: Live): TemplateResult {
  const user = context.auth.user;
  const active = route.name === "change" ? "changes" : route.name;
  return html`<a class="skip" href="#main" @click=${skipToMain}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/changes">Wheelhouse</a>
      <nav aria-label="Main">
        <ul>
          ${NAV.map(
            ([name, link, label]) =>
              html`<li><a href=${link} aria-current=${name === active ? "page" : "false"}>${label}</a></li>`,
          )}
        </ul>
      </nav>
      <span class="live live-${live.state}" role="status" aria-live="polite">${LIVE_LABEL[live.state]}</span>
      <span class="user">
        <span title=${user?.groups.join(", ") ?? ""}>${user?.name ?? ""}</span>
        <button type="button" @click=${() => void context.auth.signOut()}>Sign out</button>
      </span>
    </header>
    <main id="main" tabindex="-1">${screen.view()}</main>`;
}

function skipToMain(event: Event) {
  event.preventDefault();
  document.getElementById("main")?.focus();
}

async function boot() {
  let auth: Auth;
  try {
    auth = createAuth(await loadAuthConfig());
  } catch (error) {
    render(signInPage(null, problemView(toProblem(error))), root);
    return;
  }
  const url = new URL(window.location.href);
  if (auth.isCallback(url)) {
    try {
      const returnTo = await auth.completeSignIn(url);
      window.history.replaceState(null, "", `/${returnTo.startsWith("#") ? returnTo : "#/changes"}`);
    } catch (error) {
      window.history.replaceState(null, "", "/");
      render(signInPage(auth, problemView({ ...toProblem(error), title: "Sign-in failed" })), root);
      return;
    }
  }
  if (!auth.user) {
    if (auth.resumable) {
      await auth.signIn(window.location.hash || "#/changes");
      return;
    }
    render(signInPage(auth, nothing), root);
    return;
  }

  const api = createApi(() => auth.token());
  const live = createLive(() => auth.token());
  // Who the gateway takes this person for: which actions to offer. Without it, none that need a role.
  const me: Me | null = await unwrap(api.GET("/v1/me")).catch(() => null);
  let screen: Screen | null = null;
  let route: Route = parseRoute(window.location.hash);
  let scheduled = false;
  const context: Context = {
    api,
    auth,
    live,
    me,
    rerender: () => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        draw();
      });
    },
  };

  function draw() {
    if (!auth.user) {
      render(signInPage(auth, html`<p role="status">You are signed out.</p>`), root);
      return;
    }
    if (screen) render(shell(context, route, screen, live), root);
  }

  function mount() {
    route = parseRoute(window.location.hash);
    screen?.dispose();
    live.subscribe(null);
    screen = SCREENS[route.name](context, route);
    document.title = `${screen.title} · Wheelhouse`;
    draw();
    // Move focus to the new page's heading, as a page load would.
    requestAnimationFrame(() => (document.querySelector("main h1") as HTMLElement | null)?.focus());
  }

  auth.onChange(() => {
    if (!auth.user) {
      live.stop();
      screen?.dispose();
      screen = null;
    } else {
      // A refreshed token: the socket keeps going on it.
      void live.reauthenticate();
    }
    draw();
  });
  live.onState(() => context.rerender());
  window.addEventListener("hashchange", mount);
  if (!window.location.hash) window.history.replaceState(null, "", "#/changes");
  live.start();
  mount();
}

void boot();
