"""Stop words of the European languages a library's abstracts are often written in.

Small built-in lists (the most frequent function words of each language, no package
data to download): Danish, Norwegian, Swedish, German, French, Spanish, Portuguese,
Italian and Dutch. Words that are also English content words ("die", "man", "son",
"fall", "arm") are left out: a stop word breaks every phrase it is in, in every language.
"""

from __future__ import annotations

from functools import cache

_LISTS = {
    "da": """af alle andet andre at blev blive bliver da de dem den denne der deres det dette
        dig din dine disse du efter eller en end er et for fra ham han hans har havde have
        hende hendes her hos hun hvad hvis hvor ikke ind jeg jer jo kan kunne mange med meget
        men mig min mine mit mod ned noget nogle nu når og også om op os over på sig sin sine
        sit skal skulle som sådan thi til ud under var vi vil ville vor være været""",
    "no": """av alle andre bare ble bli blir da de dei deg deira dem den denne der dere deres
        det dette din disse du eg ein eit eller em en ene eneste enkelte enn er et ett etter
        for fordi fra ha hadde han hans har hennar henne hennes her hjå ho hoe honom hoss
        hossen hun hva hvem hver hvilke hvilken hvis hvor hvordan hvorfor i ikke ikkje ingen
        ingi inkje inn inni ja jeg kan kom korleis kun kunne kva kvar kvarhelst kven kvi
        kvifor meg mellom men mi min mine mitt mot mykje ned no noe noen noka noko nokon
        nokor nokre nå når og også om opp oss over på sia sidan siden sin sine sitt sjøl
        skal skulle slik so som somme somt så sånn til um upp ut uten var vart varte ved
        vere verte vi vil ville vore vors vort vår være vært å""",
    "sv": """alla allt att av blev bli blir blivit de dem den denna deras dess dessa det
        detta dig din dina ditt du där då efter ej eller en er ett från för ha hade han hans
        har henne hennes hon honom hur här icke ingen inom inte jag ju kan kunde man med
        mellan men mig min mina mitt mot mycket ni nu när någon något några och om oss på
        samma sedan sig sin sina sitta själv skulle som så sådan sådana sådant till under
        upp ut utan vad var vara varför varit varje vars vart vem vi vid vilka vilkas vilken
        vilket vår våra vårt än är åt över""",
    "de": """aber alle allem allen aller alles als also am an ander andere anderem anderen
        anderer anderes anders auch auf aus bei bin bis bist da damit dann das dass daß dein
        deine dem den denn der derer des dessen dich dir doch dort du durch ein eine einem
        einen einer eines einig einige einigem einigen einiger einiges einmal er es etwas
        euch euer eure für gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich
        ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist jede jedem jeden
        jeder jedes jene jenem jenen jener jenes jetzt kann kein keine keinem keinen keiner
        keines können könnte machen mein meine mich mir mit muss musste nach nicht nichts
        noch nun nur ob oder ohne sehr sein seine seinem seinen seiner seines selbst sich
        sie sind so solche solchem solchen solcher solches soll sollte sondern sonst über um
        und uns unser unsere unter viel vom von vor während war waren warst was weg weil
        weiter welche welchem welchen welcher welches wenn werde werden wie wieder wir wird
        wirst wo wollen wollte würde würden zu zum zur zwar zwischen""",
    "fr": """ai aie aient aies ait as au aura aurai auraient aurais aurait auras aurez
        auriez aurions aurons auront aux avaient avais avait avec avez aviez avions avons
        ayant ayez ayons c ce ceci cela celà ces cet cette d dans des du elle en es est et
        étaient étais était étant été êtes étiez étions eu eue eues eûmes eurent eus eusse
        eussent eusses eussiez eussions eut eût eûtes eux fûmes furent fus fusse fussent
        fusses fussiez fussions fut fût fûtes ici il ils j je l la le les leur leurs lui m
        ma mais me même mes moi mon n ne nos notre nous on ont ou où par pas pour qu que
        quel quelle quelles quels qui s sa sans se sera serai seraient serais serait seras
        serez seriez serions serons seront ses soi soient sois soit sommes son sont soyez
        soyons suis sur t ta te tes toi ton tu un une vos votre vous y""",
    "es": """al algo algunas algunos ante antes como con contra cual cuando de del desde
        donde durante e el él ella ellas ellos en entre era erais éramos eran eras eres es
        esa esas ese eso esos esta estaba estado estamos estar estas este esto estos estoy
        fue fueron fui fuimos ha había habían han has hasta hay la las le les lo los más me
        mi mis mucho muchos muy nada ni nos nosotros o os otra otras otro otros para pero
        poco por porque que quien quienes qué se sea sean según ser si sí siendo sin sino
        sobre sois somos son soy su sus también tanto te tenemos tener tengo ti tiene tienen
        todo todos tu tus tú un una uno unos usted vosotros y ya yo""",
    "pt": """à ao aos aquela aquelas aquele aqueles aquilo as às até com como da das de
        dela delas dele deles depois do dos e é ela elas ele eles em entre era eram essa
        essas esse esses esta estão estas este estes eu foi foram há isso isto já lhe lhes
        mais mas me mesmo meu meus minha minhas muito na não nas nem no nos nós nossa nossas
        nosso nossos num numa o os ou para pela pelas pelo pelos por qual quando que quem
        são se seja sem ser seu seus só sua suas também te tem têm teu tu tua um uma você""",
    "it": """ad agli ai al alla alle allo anche avere aveva c che chi ci coi col come con
        contro cui da dagli dai dal dalla dalle dallo degli dei del della delle dello di dov
        dove e è ed era erano essere gli ha hanno il in io la le lei li lo loro lui ma mi
        mia mie miei mio ne negli nei nel nella nelle nello noi non nostra nostre nostri
        nostro o per perché più quale quanta quante quanti quanto quella quelle quelli
        quello questa queste questi questo se sei si sia siamo sono su sua sue sugli sui
        sul sulla sulle sullo suo suoi ti tra tu tua tue tuo tuoi tutti tutto un una uno
        vi voi""",
    "nl": """aan al alles als altijd andere ben bij daar dan dat de der deze die dit doch
        doen door dus een eens en er ge geen geweest haar had heb hebben heeft hem het hier
        hij hoe hun iemand iets ik in is ja je kan kon kunnen maar me meer men met mij mijn
        moet na naar niet niets nog nu of om omdat onder ons ook op over reeds te tegen toch
        toen tot u uit uw van veel voor want waren was wat werd wezen wie wil worden wordt
        zal ze zelf zich zij zijn zo zonder zou""",
}

#: Words of those lists that are English words or common abbreviations too ("ER stress",
#: "AI", "SEM", "IL", "miR", "OS"), kept out of every list.
ENGLISH_WORDS = frozenset("""
a ad ai also an arm art as at au aura bad bare be been bin but by can ci come dem des die dig
do door dos dove ed em end er era es est eu fall for gift had hat have hay he her here him
his how ham hem i if il in ins io is it its kind la ma man me men met mi min mine mir mit mod
more most much
must my na need no nor nos not num of on or os our over par para pas per same se sea see sem
ser she si sin so some son still tem the then these they this those ti to too under up us
van var via want war was we what when where which who why will with you
""".split())  # noqa: SIM905


def european_stop_words() -> frozenset[str]:
    """The stop words of every list above, less :data:`ENGLISH_WORDS`."""
    words = {w for text in _LISTS.values() for w in text.split()}
    return frozenset(words - ENGLISH_WORDS)


#: Content words of scikit-learn's English stop list: they break counted phrases, but
#: a label may end in one ("central nervous system").
CONTENT_WORDS = frozenset("""
amount back bill bottom call computer cry describe detail empty fill find fire found front
full give interest mill move name part serious show side sincere system thick thin top
""".split())  # noqa: SIM905


@cache
def function_words() -> frozenset[str]:
    """English stop words (scikit-learn's list, less :data:`CONTENT_WORDS`) and
    :func:`european_stop_words`: the words no phrase of a label has (the academic ones of
    ``base`` may end one: "language models")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return (frozenset(ENGLISH_STOP_WORDS) - CONTENT_WORDS) | european_stop_words()
