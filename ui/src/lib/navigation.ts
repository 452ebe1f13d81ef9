// Finding where a conversation lives, for opening it from a notification or a
// notice: in the "Cliënten" view a conversation belongs to one care team, and
// only Rust knows which (the conversations are asked per team).
import { ipc, type CareTeam } from "$lib/ipc";

/** The care team among `teams` that has `roomId` as a conversation; null when none has. */
export async function findCareTeamOf(roomId: string, teams: CareTeam[]): Promise<CareTeam | null> {
  const answers = await Promise.all(teams.map((team) => ipc.conversations(team.spaceId)));
  const index = answers.findIndex((res) => res.status === "ok" && res.data.some((c) => c.roomId === roomId));
  return index >= 0 ? teams[index]! : null;
}
