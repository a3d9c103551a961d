import { renderSVG } from 'uqr';

/** A QR code of `text`, drawn as SVG: phones open the complete verification URL with the code already in it. */
export function QrCode({ text }: { text: string }) {
  // uqr draws only rectangles; nothing of `text` ends up in the markup as text.
  return <div className="qr" data-testid="qr-code" aria-label={`QR code of ${text}`} dangerouslySetInnerHTML={{ __html: renderSVG(text, { border: 2 }) }} />;
}
