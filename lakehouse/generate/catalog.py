"""Hand-written reference data for the generator: segments, spending categories, merchants.

Static and small on purpose: the behaviour model reads these tables, the random parts come
from seeded numpy streams. Weights are relative (normalised where used).
"""

from __future__ import annotations

SEGMENTS = ("family", "student", "affluent_traveler", "saver", "young_professional")
SEGMENT_SHARE = (0.25, 0.15, 0.12, 0.20, 0.28)
# Median monthly net salary (EUR) and age range per segment.
SEGMENT_SALARY = (3400.0, 900.0, 7800.0, 2900.0, 3100.0)
SEGMENT_AGE = ((30, 52), (18, 25), (35, 66), (25, 78), (23, 35))
# Spend multiplier on discretionary amounts and daily discretionary transaction rate.
SEGMENT_SPEND = (1.1, 0.6, 2.0, 0.75, 1.0)
SEGMENT_RATE = (3.2, 2.4, 3.0, 1.6, 3.4)

# Discretionary categories: (name, median EUR, lognormal sigma, hour profile, modes).
CATEGORIES = (
    ("groceries", 38.0, 0.6, "day", {"card": 0.85, "online": 0.15}),
    ("dining", 19.0, 0.6, "evening", {"card": 0.75, "online": 0.25}),
    ("transport", 12.0, 0.8, "commute", {"card": 0.5, "online": 0.5}),
    ("fuel", 58.0, 0.3, "day", {"card": 1.0}),
    ("shopping", 45.0, 0.9, "evening", {"online": 0.7, "card": 0.3}),
    ("electronics", 160.0, 0.9, "day", {"online": 0.55, "card": 0.45}),
    ("travel", 240.0, 0.9, "anytime", {"online": 0.8, "card": 0.2}),
    ("luxury", 850.0, 0.7, "day", {"card": 0.9, "online": 0.1}),
    ("health", 26.0, 0.8, "day", {"card": 0.8, "online": 0.1, "direct_debit": 0.1}),
    ("entertainment", 21.0, 0.6, "evening", {"card": 0.5, "online": 0.5}),
    ("cash", 100.0, 0.5, "day", {"atm": 1.0}),
    ("kids", 40.0, 0.7, "day", {"card": 0.7, "online": 0.3}),
    ("education", 65.0, 0.8, "anytime", {"online": 0.6, "transfer": 0.4}),
)
CATEGORY_NAMES = tuple(c[0] for c in CATEGORIES)
# Relative weight of each category above, per segment (same order as SEGMENTS).
SEGMENT_CATEGORY_WEIGHTS = (
    (30, 10, 8, 8, 12, 3, 2, 0.3, 7, 5, 5, 9, 1),  # family
    (18, 22, 14, 1, 12, 4, 2, 0.1, 3, 12, 7, 0, 5),  # student
    (14, 20, 9, 4, 10, 5, 14, 6, 5, 8, 3, 1, 1),  # affluent_traveler
    (40, 6, 8, 8, 6, 2, 1, 0.1, 9, 3, 14, 2, 1),  # saver
    (18, 20, 12, 5, 16, 6, 5, 0.8, 4, 10, 3, 0.2, 2),  # young_professional
)
MODES = ("card", "transfer", "direct_debit", "atm", "online")
# Seconds-of-day profiles: weights for each hour 0..23.
HOUR_PROFILES = {
    "day": (0, 0, 0, 0, 0, 0, 1, 2, 4, 6, 7, 8, 9, 8, 7, 7, 8, 9, 8, 6, 4, 2, 1, 0.5),
    "evening": (1, 0.5, 0, 0, 0, 0, 0, 1, 1, 1, 2, 4, 6, 4, 3, 3, 4, 6, 9, 10, 9, 7, 4, 2),
    "commute": (0, 0, 0, 0, 0, 1, 4, 10, 9, 3, 2, 2, 3, 2, 2, 3, 6, 10, 9, 4, 2, 2, 1, 1),
    "anytime": (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 3, 2, 2),
    "night": (8, 9, 9, 8, 6, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 6),
}

# Merchants: canonical name, category, raw templates as card processors print them.
# `{code}` is a short alphanumeric reference, `{n}` a store number; each becomes a small pool.
MERCHANTS = (
    ("Lidl", "groceries", ("LIDL {n}", "Lidl Dienstleistung", "LIDL SAGT DANKE")),
    ("Aldi", "groceries", ("ALDI SUED {n}", "ALDI NORD {n}", "Aldi GmbH")),
    ("Carrefour", "groceries", ("CARREFOUR MKT {n}", "Carrefour Express", "CRF CITY {n}")),
    ("Rewe", "groceries", ("REWE Markt GmbH", "REWE {n}")),
    ("Albert Heijn", "groceries", ("AH {n}", "Albert Heijn {n}", "ALBERT HEIJN ONLINE")),
    ("Tesco", "groceries", ("TESCO STORES {n}", "Tesco Express")),
    ("McDonald's", "dining", ("MCDONALDS {n}", "McDonald's Restaurant", "MCD {n}")),
    ("Starbucks", "dining", ("STARBUCKS {n}", "Starbucks Coffee", "SBUX {n}")),
    ("Uber Eats", "dining", ("UBER *EATS {code}", "Uber Eats", "UBER EATS HELP.UBER.COM")),
    ("Deliveroo", "dining", ("DELIVEROO", "Deliveroo {code}")),
    ("Vapiano", "dining", ("VAPIANO {n}", "Vapiano SE")),
    ("Uber", "transport", ("UBER *TRIP {code}", "UBER BV", "Uber Trip help.uber.com")),
    ("Deutsche Bahn", "transport", ("DB Vertrieb GmbH", "DB BAHN {n}", "DB FERNVERKEHR")),
    ("SNCF", "transport", ("SNCF INTERNET", "SNCF {n}", "SNCF CONNECT")),
    ("Bolt", "transport", ("BOLT.EU/O/{code}", "Bolt Operations")),
    ("Shell", "fuel", ("SHELL {n}", "Shell Service Station", "SHELL OIL {n}")),
    ("Aral", "fuel", ("ARAL STATION {n}", "Aral AG")),
    ("TotalEnergies", "fuel", ("TOTAL {n}", "TotalEnergies Marketing")),
    (
        "Amazon",
        "shopping",
        ("AMZN Mktp US*{code}", "Amazon.com", "AMAZON EU SARL", "AMZN.DE*{code}"),
    ),
    ("Zalando", "shopping", ("ZALANDO SE", "Zalando*{code}")),
    ("IKEA", "shopping", ("IKEA {n}", "IKEA Deutschland", "IKEA.COM {code}")),
    ("H&M", "shopping", ("H&M {n}", "H & M Hennes & Mauritz", "HM.COM")),
    ("eBay", "shopping", ("EBAY O*{code}", "eBay Marketplace", "PAYPAL *EBAY {code}")),
    ("NordShop", "shopping", ("NORDSHOP*{code}", "NordShop Online", "NORDSHOP.EU")),
    ("MediaMarkt", "electronics", ("MEDIA MARKT {n}", "MediaMarkt Online", "MM {n}")),
    ("Apple", "electronics", ("APPLE STORE R{n}", "Apple Online Store")),
    ("Currys", "electronics", ("CURRYS {n}", "Currys PC World")),
    ("Booking.com", "travel", ("BOOKING.COM {code}", "Booking.com Hotel", "BKG*HOTEL {code}")),
    ("Airbnb", "travel", ("AIRBNB * {code}", "Airbnb Payments")),
    ("Lufthansa", "travel", ("LUFTHANSA {n}", "DLH*{code}")),
    ("Ryanair", "travel", ("RYANAIR {code}", "Ryanair Ltd")),
    ("KLM", "travel", ("KLM {n}", "KLM Royal Dutch")),
    ("Marriott", "travel", ("MARRIOTT {n}", "Marriott Hotels")),
    ("Louis Vuitton", "luxury", ("LOUIS VUITTON {n}", "LV PARIS")),
    ("Gucci", "luxury", ("GUCCI {n}", "Gucci Boutique")),
    ("Rolex", "luxury", ("ROLEX BOUTIQUE {n}",)),
    ("Chanel", "luxury", ("CHANEL {n}", "Chanel SAS")),
    ("dm", "health", ("DM DROGERIE {n}", "dm-drogerie markt", "DM FIL. {n}")),
    ("Apotheke", "health", ("APOTHEKE {code}", "Apotheke am Markt")),
    ("Boots", "health", ("BOOTS {n}", "Boots UK")),
    ("CinemaxX", "entertainment", ("CINEMAXX {n}", "CinemaxX Online")),
    ("Ticketmaster", "entertainment", ("TICKETMASTER*{code}", "Ticketmaster Europe")),
    ("Steam", "entertainment", ("STEAM PURCHASE", "STEAMGAMES.COM {code}")),
    ("ATM Withdrawal", "cash", ("ATM {n}", "CASH WDL {n}", "GELDAUTOMAT {n}")),
    ("Smyths Toys", "kids", ("SMYTHS TOYS {n}", "Smyths Toys Superstores")),
    ("Mothercare", "kids", ("MOTHERCARE {n}", "Mothercare Online")),
    ("Udemy", "education", ("UDEMY {code}", "Udemy Inc")),
    ("Coursera", "education", ("COURSERA {code}", "Coursera.org")),
    # Recurring and fraud-only merchants: never drawn as ordinary discretionary spend.
    ("Netflix", "subscription", ("NETFLIX.COM", "Netflix International B.V.", "NFLX*{code}")),
    ("Spotify", "subscription", ("Spotify AB", "SPOTIFY P{code}", "spotify.com/bill")),
    ("Disney+", "subscription", ("DISNEY PLUS", "DisneyPlus*{code}")),
    ("Amazon", "subscription", ("AMAZON PRIME", "Amazon Prime*{code}")),
    ("Apple", "subscription", ("APPLE.COM/BILL", "Apple iCloud {code}")),
    ("FitX", "subscription", ("FITX STUDIO {n}", "FitX Deutschland")),
    ("Vattenfall", "utilities", ("VATTENFALL EUROPE", "Vattenfall {code}")),
    ("E.ON", "utilities", ("E.ON Energie", "EON {n}")),
    ("Vodafone", "utilities", ("VODAFONE GMBH", "Vodafone {code}")),
    ("Nordbank Loans", "loan_emi", ("NORDBANK LOAN {n}", "EMI LOAN {n}", "NB KREDIT {n}")),
    ("Binance", "crypto", ("BINANCE.COM", "BINANCE*{code}")),
    ("Gift Card Mall", "gift_cards", ("GIFTCARDMALL {code}", "GIFT CARD MALL")),
    ("Western Union", "money_transfer", ("WU*{code}", "WESTERN UNION {n}")),
    ("Bet365", "gambling", ("BET365", "BET365*{code}")),
    ("PokerStars", "gambling", ("POKERSTARS*{code}", "PokerStars EU")),
)
# Monthly price (EUR) of each subscription merchant and its take-up weight per segment.
SUBSCRIPTIONS = (
    ("Netflix", 13.99, (0.6, 0.4, 0.6, 0.3, 0.6)),
    ("Spotify", 10.99, (0.4, 0.7, 0.5, 0.2, 0.7)),
    ("Disney+", 8.99, (0.5, 0.2, 0.3, 0.1, 0.3)),
    ("Amazon", 8.99, (0.5, 0.3, 0.5, 0.3, 0.5)),
    ("Apple", 2.99, (0.3, 0.4, 0.5, 0.2, 0.5)),
    ("FitX", 24.99, (0.2, 0.3, 0.3, 0.1, 0.5)),
)
UTILITIES = ("Vattenfall", "E.ON", "Vodafone")
FRAUD_CATEGORIES = ("crypto", "gift_cards", "money_transfer", "gambling", "electronics", "luxury")
FRAUD_KINDS = ("velocity", "amount", "merchant", "geography")
FRAUD_KIND_SHARE = (0.35, 0.25, 0.2, 0.2)

# Regions of the bank's home market: region, country, cities.
REGIONS = (
    ("Bavaria", "DE", ("Munich", "Nuremberg", "Augsburg", "Regensburg")),
    ("Berlin", "DE", ("Berlin",)),
    ("Hamburg", "DE", ("Hamburg",)),
    ("North Rhine-Westphalia", "DE", ("Cologne", "Düsseldorf", "Dortmund", "Essen")),
    ("Hesse", "DE", ("Frankfurt am Main", "Wiesbaden", "Kassel")),
    ("Île-de-France", "FR", ("Paris", "Versailles", "Boulogne-Billancourt")),
    ("Auvergne-Rhône-Alpes", "FR", ("Lyon", "Grenoble", "Saint-Étienne")),
    ("North Holland", "NL", ("Amsterdam", "Haarlem")),
    ("South Holland", "NL", ("Rotterdam", "The Hague", "Leiden")),
    ("Catalonia", "ES", ("Barcelona", "Girona")),
    ("Community of Madrid", "ES", ("Madrid", "Alcalá de Henares")),
    ("Lombardy", "IT", ("Milan", "Bergamo", "Brescia")),
    ("Leinster", "IE", ("Dublin", "Kilkenny")),
)
COUNTRY_LOCALE = {
    "DE": "de_DE",
    "FR": "fr_FR",
    "NL": "nl_NL",
    "ES": "es_ES",
    "IT": "it_IT",
    "IE": "en_IE",
}
COUNTRY_PHONE = {"DE": "+49", "FR": "+33", "NL": "+31", "ES": "+34", "IT": "+39", "IE": "+353"}
# Cities abroad and the currency a card is charged in there (travel and fraud geography).
FOREIGN_CITIES = (
    ("London", "GBP"),
    ("Manchester", "GBP"),
    ("New York", "USD"),
    ("Miami", "USD"),
    ("Bangkok", "USD"),
    ("Dubai", "USD"),
    ("Lagos", "USD"),
    ("São Paulo", "USD"),
)
CURRENCIES = ("EUR", "USD", "GBP")

INCOME_BANDS = ("<20k", "20-40k", "40-70k", "70-120k", "120k+")
INCOME_BAND_EDGES = (20_000.0, 40_000.0, 70_000.0, 120_000.0)  # annual EUR
CREDIT_BANDS = ("poor", "fair", "good", "very_good", "excellent")

# Bank products (account product codes) and the chance a segment holds each at the start.
BANK_PRODUCTS = (
    ("CURRENT", "Current account", "deposit"),
    ("SAVINGS", "Savings account", "deposit"),
    ("CREDIT_CARD", "Credit card", "credit"),
    ("PERSONAL_LOAN", "Personal loan", "loan"),
    ("MORTGAGE", "Mortgage", "loan"),
    ("INVESTMENT", "Investment account", "investment"),
)
PRODUCT_HOLDING = (  # rows: products above; columns: SEGMENTS
    (1.0, 1.0, 1.0, 1.0, 1.0),
    (0.45, 0.25, 0.6, 0.9, 0.4),
    (0.5, 0.2, 0.9, 0.3, 0.6),
    (0.3, 0.05, 0.1, 0.05, 0.2),
    (0.45, 0.0, 0.4, 0.15, 0.1),
    (0.1, 0.02, 0.6, 0.35, 0.1),
)
# Affinity (log-odds) of each segment for an offered product (rows as BANK_PRODUCTS).
OFFER_AFFINITY = (
    (0.0, 0.0, 0.0, 0.0, 0.0),
    (0.2, -0.5, 0.0, 1.2, 0.3),
    (0.3, 0.8, 0.6, -0.8, 0.9),
    (0.8, -0.6, -1.0, -1.2, 0.5),
    (1.0, -2.0, 0.4, -0.6, 0.2),
    (-0.4, -1.5, 1.5, 0.9, 0.2),
)
