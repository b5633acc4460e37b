"""Row labels of datasheet spec tables in the languages datasheets use (English, Portuguese, Spanish, German).

Labels are matched on a folded key: lower case, accents and everything but letters and digits removed, so
'Maximum Power (Pmax)', 'MaximumPoweratSTC(Pmax/W)' and 'MAXIMUM POWER - PMAX' read alike. Patterns are
tried in order, the more specific first ('maximum power voltage' is Vmp before 'maximum power' is Pmax).
"""

from __future__ import annotations

import re
import unicodedata

_EFF = r"(?:e(?:ffi|fi|ff|f)?ciency|eficiencia|rendimento|rendimiento|wirkungsgrad)"


def fold(text: str) -> str:
    """'Tensão de Circuito Aberto (Voc)' -> 'tensaodecircuitoabertovoc'."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in letters.lower() if ch.isalnum() or ch == "%")


# (field, pattern on the folded label). Module electrical fields first: their labels are the most specific.
MODULE_LABELS: list[tuple[str, str]] = [
    (
        "vmp_v",
        r"^(max(imum)?powervoltage|maxpowerpointvoltage|voltageat(mpp|maximumpower|pmax)|mppvoltage"
        r"|opt(imum)?operatingvoltage|(rated|nominal)(operating)?voltage|operatingvoltage"
        r"|tensao(de|na|no|em)?(pontode)?(maxima|max)potencia|tensaodeoperacao(otima)?|tensaonominal|tensaomp"
        r"|tension(de|en(el)?)?(puntode)?(maxima|max)potencia|tensionmpp|tensiondeoperacion"
        r"|spannung(im|bei)mpp|mppspannung|vmpp?|vmp|umpp|vm\b|vm$|vmppv)",
    ),
    (
        "imp_a",
        r"^(max(imum)?powercurrent|maxpowerpointcurrent|currentat(mpp|maximumpower|pmax)|mppcurrent"
        r"|opt(imum)?operatingcurrent|(rated|nominal)(operating)?current|operatingcurrent"
        r"|corrente(de|na|no|em)?(pontode)?(maxima|max)potencia|correntedeoperacao(otima)?|correntenominal"
        r"|corriente(de|en(el)?)?(puntode)?(maxima|max)potencia|corrientempp|corrientedeoperacion"
        r"|strom(im|bei)mpp|mppstrom|impp?|imp|im$)",
    ),
    (
        "voc_v",
        r"^(opencircuitvoltage|tensao(de|em)circuitoaberto|tension(de|en)circuitoabierto|leerlaufspannung|voc|uoc)",
    ),
    (
        "isc_a",
        r"^(shortcircuitcurrent|corrente(de|em)curtocircuito|corriente(de|en)cortocircuito|kurzschlussstrom"
        r"|isc|ik$)",
    ),
    (
        "pmax_w",
        r"^(max(imum)?power(?!tolerance|selection|gain|bin)|peakpower|powerat(mpp|stc|maximum)|ratedpower"
        r"|ratedmaximumpower|nominal(max|maximum|peak)?power(?!tolerance)|poweroutput(?!tolerance|warranty)"
        r"|pmax|pmpp|pm$|potencia(maxima|nominal|depico|pico)|maximapotencia|nennleistung|mppleistung)",
    ),
    ("efficiency_pct", rf"^((module|panel|modul|cell)?{_EFF}|{_EFF}(do|del)(modulo|painel|panel)|\u03b7)"),
    (
        "temp_coeff_pmax_pct_per_c",
        r"^(temperaturecoe(ffi|fi|ff|f)?cients?(of)?|tempcoeff\w*|coeficientedetemperatura(de|da|do)?|temperaturkoeffizient)?"
        r"(pmax|pmpp|pm|maximumpower|power|potencia(maxima)?|leistung)(temperaturecoefficient|tk)?\u03b3?$",
    ),
    (
        "temp_coeff_voc_pct_per_c",
        r"^(temperaturecoe(ffi|fi|ff|f)?cients?(of)?|tempcoeff\w*|coeficientedetemperatura(de|da|do)?|temperaturkoeffizient)?"
        r"(voc|uoc|opencircuitvoltage|tensaodecircuitoaberto|leerlaufspannung)(temperaturecoefficient|tk)?\u03b2?$",
    ),
    (
        "temp_coeff_isc_pct_per_c",
        r"^(temperaturecoe(ffi|fi|ff|f)?cients?(of)?|tempcoeff\w*|coeficientedetemperatura(de|da|do)?|temperaturkoeffizient)?"
        r"(isc|shortcircuitcurrent|correntedecurtocircuito|kurzschlussstrom)(temperaturecoefficient|tk)?\u03b1?$",
    ),
    ("dimensions", r"^(module)?(dimensions?|format|size|dimensoes|dimensiones|abmessungen)"),
    ("weight_kg", r"^(net|module|unit)?(weight|peso|gewicht)"),
]

INVERTER_LABELS: list[tuple[str, str, frozenset[str] | None]] = [
    # (field, pattern, sections it may appear in; None = anywhere)
    (
        "mppt_range",
        r"^((pv|dc)?mpp(t)?(operating|working)?voltagerange|(pv|dc)?mpp(t)?range|rangeofmpp"
        r"|faixadetensao(de|do)?(operacao)?mppt?|faixademppt?|rangodetension(de)?mppt?|mppspannungsbereich"
        r"|mpp(t)?spannung)(v|vdc)?$",
        None,
    ),
    (
        "max_dc_voltage_v",
        r"^(max(imum)?(pv|dc)?(input|array)?(open?circuit)?voltage(dc)?(v|vdc)?$|max(imum)?(pv|dc)inputvoltage"
        r"|max(imum)?inputvoltage(pv|dc)?|tensao(cc|dc)?maxima(de)?(entrada)?(cc|dc|fv)?"
        r"|tensaomaxima|tensionmaxima(de)?(entrada)?(cc|dc|fv)?|max(imale)?(dc)?eingangsspannung)",
        frozenset({"dc", None}),
    ),
    (
        "max_dc_voltage_range",  # the top of 'DC input voltage range 100-600 VDC' when no maximum is printed
        r"^((pv|dc)inputvoltagerange|(dc|pv)?inputvoltagerange|(dc|pv)voltagerange|faixadetensaodeentrada)",
        frozenset({"dc"}),
    ),
    (
        "mppt_count",
        r"^(number|no|num|quantity|qty)(of)?(independent)?mpp(t|ts|trackers?|inputs?)?"
        r"|^mpp(t)?(number|quantity|count|trackers?)$|^(numero|n)(de)?mppts?|^(numero|n)(de)?rastreadores"
        r"|^anzahl(der)?mpp",
        None,
    ),
    (
        "max_efficiency_pct",
        rf"^((pv|inverter)?(max(imum)?|peak)(inverter)?{_EFF}(pvtogrid|pvgrid)?%?$|{_EFF}maxima|maxima{_EFF}"
        rf"|max(imaler)?{_EFF}"
        rf"|max(imum)?{_EFF}(pvtogrid|pvgrid))",
        None,
    ),
    (
        "ac_power_w",
        r"^((rated|nominal)(ac)?(output)?(active)?power(output)?(ac)?|(rated|nominal)(ac)?poweroutput"
        r"|(ac)?(rated|nominal)(output)?power|max(imum)?continuous(ac)?outputpower"
        r"|potencia(nominal|ativa)(de)?(saida)?(ca|ac)?"
        r"|potencianominalca|potencia(nominal)?(de)?salida(nominal)?|ac(nenn|bemessungs)leistung|nennleistung)",
        frozenset({"ac", None}),
    ),
    ("phases", r"^((feedin|output|grid|ac)phases|phases|numerodefases|fases|phasen)$", None),
    ("weight_kg", r"^(net|unit|inverter)?(weight|peso|gewicht)", None),
]

BATTERY_LABELS: list[tuple[str, str, frozenset[str] | None]] = [
    (
        "usable_kwh",
        r"^(usable|useable|available|nutzbare?|energiautil|capacidadeutil|capacidadutil|energiautilizavel)"
        r"(energy|capacity|energie|kapazitat)?",
        None,
    ),
    (
        "nominal_voltage_v",
        r"^((rated|nominal)(dc)?(battery)?voltage|tensaonominal|tensionnominal|nennspannung|(battery)?voltagenominal)",
        frozenset({"dc", "battery", None}),
    ),
    ("weight_kg", r"^(net|unit|battery|module)?(weight|peso|gewicht)", None),
]

# Section heading lines (a label with no values) set the context for the rows below them.
SECTIONS: list[tuple[str, str]] = [
    ("battery", r"^(battery|bateria|batterie|energystorage|armazenamento)"),
    ("dc", r"^(dc|pv|input(dc|pv)|entrada(cc|dc|fv)|(dc|pv)(side)?input|dcseite|eingang)"),
    ("ac", r"^(ac|output|grid|backup|offgrid|saida|salida|ausgang|acseite)"),
    ("efficiency", rf"^{_EFF}"),
    ("general", r"^(general|generaldata|dadosgerais|datosgenerales|allgemein|protection|protecao|features)"),
]

# A title in a header row's first cell ('Technical Specification | SUN2000-3KTL-M1 | SUN2000-4KTL-M1'): the row
# names models when every other cell reads as a model code.
TITLE_HEADER = re.compile(
    r"^(technical(data|specifications?|parameters)|specifications?|datasheet|electrical(data|characteristics)"
    r"|dadostecnicos|especificacoes(tecnicas)?|fichatecnica|datostecnicos|especificaciones(tecnicas)?"
    r"|technischedaten|datenblatt)\d?$"
)
MODEL_HEADER = re.compile(
    r"^(moduletype|model(s|name|type|no|number|numbers)?|typedesignation|type|powerclass|powerclasses"
    r"|classedepotencia|modelo(s)?|tipo|typ|modell|product(model|type)|partnumber|electricaldatamodel|inverter"
    r"|modeltype)\d?$"
)

# Conditions other than STC: a module table captioned with one of these is not read as STC values.
NON_STC = re.compile(
    r"\b(nmot|noct|nominal operating|800\s?w/?m|rear[- ]side|backside|bifacial (power )?gain|power gain"
    r"|ganho bifacial|low irradiance)",
    re.IGNORECASE,
)
STC = re.compile(r"\bstc\b|standard test", re.IGNORECASE)
