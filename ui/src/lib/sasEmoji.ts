// Names for the 64 emoji of the Matrix SAS verification (spec, "SAS method:
// emoji"). Rust sends the spec's English name; Dutch readers get their own.
import { i18n } from "$lib/i18n/index.svelte";

const NL: Record<string, string> = {
  Dog: "Hond", Cat: "Kat", Lion: "Leeuw", Horse: "Paard", Unicorn: "Eenhoorn", Pig: "Varken",
  Elephant: "Olifant", Rabbit: "Konijn", Panda: "Panda", Rooster: "Haan", Penguin: "Pinguïn",
  Turtle: "Schildpad", Fish: "Vis", Octopus: "Octopus", Butterfly: "Vlinder", Flower: "Bloem",
  Tree: "Boom", Cactus: "Cactus", Mushroom: "Paddenstoel", Globe: "Wereldbol", Moon: "Maan",
  Cloud: "Wolk", Fire: "Vuur", Banana: "Banaan", Apple: "Appel", Strawberry: "Aardbei", Corn: "Maïs",
  Pizza: "Pizza", Cake: "Taart", Heart: "Hart", Smiley: "Smiley", Robot: "Robot", Hat: "Hoed",
  Glasses: "Bril", Spanner: "Moersleutel", Santa: "Kerstman", "Thumbs Up": "Duim omhoog",
  Umbrella: "Paraplu", Hourglass: "Zandloper", Clock: "Klok", Gift: "Cadeau", "Light Bulb": "Gloeilamp",
  Book: "Boek", Pencil: "Potlood", Paperclip: "Paperclip", Scissors: "Schaar", Lock: "Slot",
  Key: "Sleutel", Hammer: "Hamer", Telephone: "Telefoon", Flag: "Vlag", Train: "Trein",
  Bicycle: "Fiets", Aeroplane: "Vliegtuig", Rocket: "Raket", Trophy: "Trofee", Ball: "Bal",
  Guitar: "Gitaar", Trumpet: "Trompet", Bell: "Bel", Anchor: "Anker", Headphones: "Koptelefoon",
  Folder: "Map", Pin: "Punaise",
};

/** The emoji's name in the UI language (the spec's English one where no translation exists). */
export function emojiName(description: string): string {
  return i18n.locale === "nl" ? (NL[description] ?? description) : description;
}

export const SAS_EMOJI_COUNT = Object.keys(NL).length;
