/** The customer beside a conversation: details the agent can correct, notes, and the full timeline. */
import { describeError, type Api } from '../shared/api';
import { fill, focusIsLost, h } from '../shared/dom';
import type { CustomerView, HistoryItem } from '../shared/types';
import { customerLabel, renderTimeline } from './timeline';

const HISTORY_LIMIT = 50;

export class CustomerPanel {
  readonly el: HTMLElement;
  private customer: CustomerView | null = null;
  private readonly body = h('div', { class: 'customer-body' }, h('p', { class: 'muted' }, 'Loading customer…'));
  private readonly timeline = h('div', { class: 'customer-history' });
  private readonly status = h('p', { class: 'status', role: 'status' });

  constructor(
    private readonly api: Api,
    private readonly customerId: string,
    private readonly uid: string,
    private readonly onChange: (c: CustomerView) => void,
  ) {
    this.el = h(
      'details',
      { class: 'customer', open: true },
      h('summary', null, 'Customer details, notes and history'),
      this.status,
      this.body,
      h('h4', null, 'History (every channel)'),
      this.timeline,
    );
  }

  async load(): Promise<void> {
    try {
      const [customer, history] = await Promise.all([
        this.api.get<CustomerView>(`/api/customers/${this.customerId}`),
        this.api.get<{ items: HistoryItem[] }>(`/api/customers/${this.customerId}/history?limit=${HISTORY_LIMIT}`),
      ]);
      this.show(customer);
      fill(this.timeline, renderTimeline(history.items, `History of ${customerLabel(customer)}`));
    } catch (err) {
      this.status.textContent = `Could not load the customer: ${describeError(err)}`;
    }
  }

  private async refreshHistory(): Promise<void> {
    const history = await this.api.get<{ items: HistoryItem[] }>(`/api/customers/${this.customerId}/history?limit=${HISTORY_LIMIT}`);
    fill(this.timeline, renderTimeline(history.items, `History of ${this.customer ? customerLabel(this.customer) : 'the customer'}`));
  }

  private show(c: CustomerView): void {
    this.customer = c;
    this.onChange(c);
    const id = (name: string) => `${this.uid}-${name}`;
    const name = h('input', { id: id('name'), name: 'name', value: c.name ?? '', maxlength: 200, autocomplete: 'off' });
    const tags = h('input', { id: id('tags'), name: 'tags', value: c.tags.join(', '), autocomplete: 'off' });
    const existing = Object.entries(c.attributes).map(([key, value], n) => {
      const shown = typeof value === 'string' ? value : JSON.stringify(value);
      return { key, shown, input: h('input', { id: id(`attr-${n}`), value: shown, autocomplete: 'off' }) };
    });
    const newKey = h('input', { id: id('new-key'), maxlength: 100, autocomplete: 'off' });
    const newValue = h('input', { id: id('new-value'), autocomplete: 'off' });
    const save = h('button', { type: 'submit', id: id('save') }, 'Save details');
    const details = h(
      'form',
      { class: 'customer-form', 'aria-label': 'Customer details' },
      h('dl', { class: 'facts' }, c.identities.map((i) => [h('dt', null, i.kind === 'chat' ? 'Web chat' : i.kind === 'phone' ? 'Phone' : 'Email'), h('dd', null, i.kind === 'chat' ? 'visitor' : i.value)])),
      h('div', { class: 'field' }, h('label', { for: name.id }, 'Name'), name),
      h('div', { class: 'field' }, h('label', { for: tags.id }, 'Tags (comma-separated)'), tags),
      existing.map((a) => h('div', { class: 'field' }, h('label', { for: a.input.id }, a.key), a.input)),
      h(
        'fieldset',
        { class: 'new-attribute' },
        h('legend', null, 'Add an attribute'),
        h('div', { class: 'field' }, h('label', { for: newKey.id }, 'Attribute name'), newKey),
        h('div', { class: 'field' }, h('label', { for: newValue.id }, 'Value'), newValue),
      ),
      h('p', { class: 'hint' }, 'Empty an attribute to remove it.'),
      save,
    );
    details.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const patch: { name?: string | null; tags?: string[]; attributes?: Record<string, unknown> } = {};
      const newName = name.value.trim() || null;
      if (newName !== c.name) patch.name = newName;
      const newTags = [...new Set(tags.value.split(',').map((t) => t.trim()).filter(Boolean))];
      if (newTags.join(',') !== c.tags.join(',')) patch.tags = newTags;
      const attributes: Record<string, unknown> = {};
      for (const a of existing) {
        const v = a.input.value.trim();
        if (v !== a.shown) attributes[a.key] = v === '' ? null : v;
      }
      if (newKey.value.trim() && newValue.value.trim()) attributes[newKey.value.trim()] = newValue.value.trim();
      if (Object.keys(attributes).length) patch.attributes = attributes;
      if (Object.keys(patch).length === 0) {
        this.status.textContent = 'Nothing to save.';
        return;
      }
      const hadFocus = details.contains(document.activeElement);
      save.disabled = true;
      this.api.patch<CustomerView>(`/api/customers/${c.id}`, patch).then(
        (updated) => {
          // The form is drawn afresh from what the server kept; the keyboard stays on Save.
          this.show(updated);
          if (hadFocus && focusIsLost()) document.getElementById(save.id)?.focus();
          this.status.textContent = 'Customer details saved.';
          void this.refreshHistory().catch(() => undefined);
        },
        (err: unknown) => {
          save.disabled = false;
          if (hadFocus && focusIsLost()) save.focus();
          this.status.textContent = `Could not save: ${describeError(err)}`;
        },
      );
    });

    const noteText = h('textarea', { id: id('note'), rows: 2, maxlength: 10000 });
    const addNote = h('button', { type: 'submit' }, 'Add note');
    const noteForm = h('form', { class: 'note-form', 'aria-label': 'Add a note' }, h('div', { class: 'field' }, h('label', { for: noteText.id }, 'New note'), noteText), addNote);
    noteForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = noteText.value.trim();
      if (!text) return;
      const hadFocus = noteForm.contains(document.activeElement);
      addNote.disabled = true;
      // Disabling the focused button drops the focus (Chromium): give it back afterwards.
      const done = (message: string) => {
        addNote.disabled = false;
        if (hadFocus && focusIsLost()) noteText.focus();
        this.status.textContent = message;
      };
      this.api.post<HistoryItem>(`/api/customers/${c.id}/notes`, { text }).then(
        () => {
          noteText.value = '';
          done('Note added.');
          void this.refreshHistory().catch(() => undefined);
        },
        (err: unknown) => done(`Could not add the note: ${describeError(err)}`),
      );
    });
    fill(this.body, details, noteForm);
  }
}
