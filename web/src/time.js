// Countdowns to deadlines, in the current language, and how near they are (the card's colour).
import { t } from "./i18n.js";

export function countdown(deadline) {
  if (!deadline) return "";
  const ms = new Date(deadline).getTime() - Date.now();
  if (ms <= 0) return t("overdue");
  const hours = Math.floor(ms / 3600000);
  return hours >= 48 ? t("daysLeft", { days: Math.floor(hours / 24) }) : t("hoursLeft", { hours });
}

export function urgency(deadline) {
  if (!deadline) return "calm";
  const hours = (new Date(deadline).getTime() - Date.now()) / 3600000;
  return hours <= 0 ? "late" : hours <= 48 ? "near" : hours <= 24 * 7 ? "soon" : "calm";
}
