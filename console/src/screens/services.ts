/**
 * Services: the service graph as the context service last saw it (`/v1/context/services`), one row
 * per service with what it depends on and what depends on it (its blast radius); a row opens the
 * service's live details (replicas, images, Helm release, Argo CD application, HPA, workloads).
 */
import { html, nothing, type TemplateResult } from "lit-html";
import { type Problem, type ServiceDetail, type ServiceView, toProblem, unwrap } from "../api/client";
import { navigate } from "../router";
import { attempt, jsonView, problemView, type ScreenFactory, timeView } from "../ui";

type Loose = Record<string, unknown>;

function neighbours(list: ServiceDetail["depends_on"]): TemplateResult {
  if (list.length === 0) return html`<span class="muted">none</span>`;
  return html`${list.map((n, i) => html`${i ? ", " : ""}<span>${n.name}</span> <span class="muted small">(${n.kind}${n.environment ? `, ${n.environment}` : ""})</span>`)}`;
}

function detailView(d: ServiceDetail): TemplateResult {
  return html`<dl class="kv">
    <dt>Namespace</dt><dd>${d.namespace ?? "—"}</dd>
    <dt>Replicas</dt><dd>${d.replicas.ready ?? "?"} ready of ${d.replicas.desired ?? "?"}</dd>
    <dt>Images</dt><dd>${d.images.length ? d.images.map((i) => html`<code class="break">${i}</code> `) : "—"}</dd>
    <dt>Helm release</dt><dd>${d.chart ? jsonView(d.chart) : "—"}</dd>
    <dt>Argo CD</dt><dd>${d.application ? jsonView(d.application) : "—"}</dd>
    <dt>Autoscaler</dt><dd>${d.hpa ? jsonView(d.hpa) : "—"}</dd>
    <dt>Runs as</dt><dd>${neighbours(d.workloads)}</dd>
    <dt>Deployed by</dt><dd>${neighbours(d.owners)}</dd>
    <dt>Depends on</dt><dd>${neighbours(d.depends_on)}</dd>
    <dt>Dependents</dt><dd>${neighbours(d.dependents)}</dd>
    <dt>Observed by</dt><dd>${neighbours(d.observed_by)}</dd>
    <dt>Seen</dt><dd>${timeView(d.updated_at)}</dd>
  </dl>`;
}

export const servicesScreen: ScreenFactory = (context, route) => {
  const { api } = context;
  const environment = route.query.get("environment") ?? "";
  let services: ServiceView[] = [];
  let loading = true;
  let problem: Problem | null = null;
  const details = new Map<string, ServiceDetail | Problem | "loading">();
  const openRows = new Set<string>();

  async function load() {
    const all: ServiceView[] = [];
    let cursor: string | null = null;
    await attempt(
      async () => {
        for (let pages = 0; pages < 10; pages++) {
          const page = await unwrap(
            api.GET("/v1/context/services", {
              params: {
                query: { limit: "500", ...(environment ? { environment } : {}), ...(cursor ? { cursor } : {}) },
              },
            }),
          );
          all.push(...page.items);
          cursor = page.next_cursor;
          if (!cursor) break;
        }
      },
      (p) => {
        problem = p;
      },
      toProblem,
    );
    services = all.sort(
      (a, b) => (a.environment ?? "").localeCompare(b.environment ?? "") || a.name.localeCompare(b.name),
    );
    loading = false;
    context.rerender();
  }
  void load();

  function toggle(s: ServiceView) {
    if (openRows.has(s.node_id)) openRows.delete(s.node_id);
    else {
      openRows.add(s.node_id);
      void open(s);
    }
    context.rerender();
  }

  async function open(s: ServiceView) {
    if (details.has(s.node_id)) return;
    details.set(s.node_id, "loading");
    context.rerender();
    try {
      details.set(
        s.node_id,
        await unwrap(
          api.GET("/v1/context/services/{name}", {
            params: { path: { name: s.name }, query: s.environment ? { environment: s.environment } : {} },
          }),
        ),
      );
    } catch (error) {
      details.set(s.node_id, toProblem(error));
    }
    context.rerender();
  }

  return {
    title: "Services",
    dispose: () => undefined,
    view: () => {
      const byId = new Map(services.map((s) => [s.node_id, s]));
      const dependents = new Map<string, ServiceView[]>();
      for (const s of services) {
        for (const e of s.edges) {
          if (e.kind !== "depends_on" || !byId.has(e.to_node)) continue;
          dependents.set(e.to_node, [...(dependents.get(e.to_node) ?? []), s]);
        }
      }
      const names = (list: readonly (ServiceView | undefined)[]) =>
        list
          .filter((s): s is ServiceView => s !== undefined)
          .map((s) => s.name)
          .join(", ") || "—";
      const environments = [...new Set(services.map((s) => s.environment).filter((e): e is string => !!e))];
      return html`<h1 tabindex="-1">Services</h1>
        <form class="filters" role="search" aria-label="Filter services" @submit=${(event: SubmitEvent) => {
          event.preventDefault();
          const value = new FormData(event.target as HTMLFormElement).get("environment");
          navigate("/services", { environment: String(value ?? "") });
        }}>
          <label>Environment <input name="environment" .value=${environment} list="environments" autocomplete="off" /></label>
          <datalist id="environments">${environments.map((e) => html`<option value=${e}></option>`)}</datalist>
          <div class="filter-actions"><button type="submit">Apply</button> <a href="#/services">Clear</a></div>
        </form>
        ${problemView(problem)}
        <table class="list">
          <caption class="visually-hidden">Services and their dependencies</caption>
          <thead><tr><th scope="col">Service</th><th scope="col">Environment</th><th scope="col">Namespace</th><th scope="col">Replicas</th><th scope="col">Depends on</th><th scope="col">Dependents</th></tr></thead>
          <tbody>
            ${services.map((s) => {
              const a = s.attributes as Loose;
              const detail = details.get(s.node_id);
              const expanded = openRows.has(s.node_id);
              const rowId = `service-${s.node_id.replace(/[^\w-]/g, "_")}`;
              return html`<tr>
                  <td>
                    <button type="button" class="link" aria-expanded=${expanded ? "true" : "false"} aria-controls=${rowId} @click=${() => toggle(s)}>
                      <span aria-hidden="true">${expanded ? "▾" : "▸"}</span> ${s.name}
                    </button>
                  </td>
                  <td>${s.environment ?? "—"}</td>
                  <td>${typeof a.namespace === "string" ? a.namespace : "—"}</td>
                  <td>${typeof a.replicas === "number" ? a.replicas : "—"}</td>
                  <td>${names(s.edges.filter((e) => e.kind === "depends_on").map((e) => byId.get(e.to_node)))}</td>
                  <td>${names(dependents.get(s.node_id) ?? [])}</td>
                </tr>
                ${
                  expanded
                    ? html`<tr id=${rowId} class="detail-row"><td colspan="6">
                      ${
                        detail === undefined || detail === "loading"
                          ? html`<p role="status">Loading…</p>`
                          : "node_id" in detail
                            ? detailView(detail)
                            : problemView(detail)
                      }
                    </td></tr>`
                    : nothing
                }`;
            })}
            ${!loading && services.length === 0 ? html`<tr><td colspan="6" class="muted">The context service has seen no service${environment ? ` in ${environment}` : ""} yet.</td></tr>` : nothing}
          </tbody>
        </table>
        ${loading ? html`<p role="status">Loading…</p>` : nothing}`;
    },
  };
};
