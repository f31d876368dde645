// A button for an action that cannot be undone: it asks once more, inline
// (no window.confirm), before it acts. The question is a labelled group with
// the two answers; focus moves to the safe answer, Escape backs out, and
// focus returns to the button.
import { useEffect, useRef, useState } from 'react';

export function ConfirmButton({
  label,
  confirm,
  yesLabel,
  noLabel = 'No',
  busyLabel,
  onConfirm,
  disabled,
  testid,
  ariaLabel,
  small,
}: {
  /** the button's text */
  label: string;
  /** the question asked */
  confirm: string;
  /** the answer that acts ("Yes, cancel") */
  yesLabel: string;
  noLabel?: string;
  busyLabel: string;
  onConfirm: () => Promise<void>;
  disabled?: boolean;
  /** data-testid of the button; the answer that acts is `${testid}-confirm` */
  testid: string;
  /** the button's accessible name, when its text alone is not enough */
  ariaLabel?: string;
  small?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const refocus = useRef(false);
  const size = small ? ' btn-small' : '';

  useEffect(() => {
    if (!asking && refocus.current) {
      refocus.current = false;
      button.current?.focus();
    }
  }, [asking]);

  const back = () => {
    refocus.current = true;
    setAsking(false);
  };

  if (busy) {
    return (
      <button type="button" className={`btn btn-danger${size}`} disabled data-testid={`${testid}-busy`}>
        {busyLabel}
      </button>
    );
  }
  if (asking) {
    return (
      <span
        className="confirm"
        role="group"
        aria-label={confirm}
        data-testid={`${testid}-question`}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            back();
          }
        }}
      >
        <span className="confirm-q">{confirm}</span>
        <button
          type="button"
          className={`btn btn-danger${size}`}
          data-testid={`${testid}-confirm`}
          onClick={async () => {
            setBusy(true);
            try {
              await onConfirm();
            } finally {
              setBusy(false);
              setAsking(false);
            }
          }}
        >
          {yesLabel}
        </button>
        <button type="button" className={`btn${size}`} onClick={back} autoFocus data-testid={`${testid}-cancel`}>
          {noLabel}
        </button>
      </span>
    );
  }
  return (
    <button
      type="button"
      ref={button}
      className={`btn btn-danger-quiet${size}`}
      onClick={() => setAsking(true)}
      disabled={disabled}
      data-testid={testid}
      aria-label={ariaLabel}
    >
      {label}
    </button>
  );
}
